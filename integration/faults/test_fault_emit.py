"""Emitting when things are wrong: no hub, a log locked by a long writer, a full disk.

Each case ends with a clear error or a success, never a hang, a traceback or a
half-written row, and the hub and the other producers carry on.

Already proven elsewhere: integration/test_bus_delivery.py::
test_events_emitted_with_no_hub_are_replayed_after_it_starts (SDK emits before any hub
ever ran).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._support import faults as fh
from waitbus import emit
from waitbus_store import Store, StoreError, resolve_paths

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN IMMEDIATE")
conn.execute("INSERT INTO events (event_id, source, event_type, delivery_id, received_at, fields)"
             " VALUES ('00000000000000000000000000', 'half', 'written', 'half', 0, '{}')")
print("locked", flush=True)
time.sleep(120)
"""


@pytest.mark.timeout(60)
def test_emit_after_a_kill9_of_the_hub_succeeds_and_is_replayed(hub, raw_client):
    hub.kill()  # leaves broadcast.sock, doorbell.sock and hub.lock behind
    p = resolve_paths()
    assert p.socket.exists() and p.doorbell.exists()
    t0 = time.monotonic()
    done = fh.cli("emit", "agent", "while_down", "n=1")
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - t0 < 20  # the ring to a dead doorbell fails at once, silently
    sdk = emit("agent", "while_down", fields={"n": 2})
    assert [r["event_id"] for r in fh.stored()] == [done.stdout.strip(), sdk.event_id]
    hub.start()
    client = raw_client()
    client.subscribe(since="0" * 26)
    assert [f["event_id"] for f in client.events(2)] == [done.stdout.strip(), sdk.event_id]


@pytest.mark.timeout(90)
def test_a_log_locked_by_a_long_writer_fails_emit_after_the_busy_wait_with_a_clear_error(
    hub, raw_client, reap, await_subscribers
):
    emit("agent", "before")
    db = str(resolve_paths().db)
    holder = reap(subprocess.Popen([sys.executable, "-c", HOLD_LOCK, db], stdout=subprocess.PIPE))
    assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
    client = raw_client()
    client.subscribe()
    cli = reap(
        subprocess.Popen([fh.WAITBUS, "emit", "agent", "locked_out"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    )
    t0 = time.monotonic()
    with pytest.raises(StoreError) as info:
        emit("agent", "locked_out")
    waited = time.monotonic() - t0
    out, err = cli.communicate(timeout=30)
    assert 8 < waited < 30  # a bounded wait (10 s), not forever, not at once
    assert "stayed locked for 10s by another writer" in str(info.value) and "retry" in str(info.value)
    assert cli.returncode == 4 and out == b""
    assert err.decode().startswith("waitbus emit: ") and "stayed locked for 10s" in err.decode()
    # The hub was never blocked: it answers and its heartbeats kept coming.
    await_subscribers(1, timeout=5)
    frame = client.next(5)
    assert frame is not None and frame["kind"] == "daemon_heartbeat"

    waiting = reap(subprocess.Popen([fh.WAITBUS, "emit", "agent", "after"], stdout=subprocess.PIPE))
    time.sleep(1)
    holder.kill()  # the long writer dies mid-transaction: its row is rolled back
    holder.wait(10)
    after_id = waiting.communicate(timeout=30)[0].decode().strip()
    assert waiting.returncode == 0  # it waited for the lock, then wrote
    assert [f["event_id"] for f in client.events(1)] == [after_id]
    assert [r["event_type"] for r in fh.stored()] == ["before", "after"]  # nothing half-written
    assert fh.integrity_ok()


@pytest.mark.timeout(90)
def test_a_full_disk_fails_emit_clearly_and_the_hub_and_small_events_carry_on(
    tmpfs, waitbus_env, hub_factory, raw_client, await_subscribers, tmp_path
):
    state = tmpfs(Path(waitbus_env["WAITBUS_STATE_DIR"]), "2m")
    hub_factory(["--heartbeat-sec", "1"])
    client = raw_client()
    client.subscribe()
    first = emit("agent", "load", fields={"i": 0}).event_id
    free = os.statvfs(state).f_bavail * os.statvfs(state).f_frsize
    (state / "filler").write_bytes(b"\0" * (free - 256 * 1024))  # leave 256 KiB
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1024 * 1024))

    done = fh.cli("emit", "agent", "big", "--payload", f"@{big}")
    assert done.returncode == 4 and done.stdout == ""
    assert "disk or database is full" in done.stderr and "free space" in done.stderr
    with pytest.raises(StoreError, match="disk or database is full"):
        emit("agent", "big", payload=big.read_bytes())
    assert [r["event_id"] for r in fh.stored()] == [first]  # no half-written row
    assert fh.integrity_ok()
    small = emit("agent", "load", fields={"i": 1}).event_id  # what fits still goes through
    assert [f["event_id"] for f in client.events(2)] == [first, small]
    await_subscribers(1, timeout=5)

    (state / "filler").unlink()  # space again: the same producer writes without a restart
    later = emit("agent", "big", payload=big.read_bytes()).event_id
    assert [f["event_id"] for f in client.events(1)] == [later]
    assert [r["event_id"] for r in fh.stored()] == [first, small, later]


@pytest.mark.timeout(60)
def test_a_producer_whose_database_is_full_fails_alone(hub, raw_client):
    """One producer's connection hits SQLite's page limit (PRAGMA max_page_count, SQLITE_FULL
    without filling a disk); the other producers and the hub are not affected."""
    client = raw_client()
    client.subscribe()
    first = emit("agent", "load").event_id
    with Store(resolve_paths().db) as capped:
        pages = capped.connection.execute("PRAGMA page_count").fetchone()[0]
        capped.connection.execute(f"PRAGMA max_page_count = {pages + 4}")
        with pytest.raises(StoreError, match="disk or database is full"):
            capped.insert(
                source="agent",
                event_type="big",
                fields=b'{"source":"agent","event_type":"big"}',
                payload=os.urandom(512 * 1024),
            )
        done = fh.cli("emit", "agent", "other")  # another producer, meanwhile
        assert done.returncode == 0, done.stderr
    assert [f["event_id"] for f in client.events(2)] == [first, done.stdout.strip()]
    assert [r["event_type"] for r in fh.stored()] == ["load", "other"]

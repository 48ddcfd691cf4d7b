"""1,000 subscribers connect and leave in a loop while an emitter runs: live ones,
replays from an old cursor (most leave mid-replay), `where` predicates that match or
not, some that leave right after the ack and some that never finish their subscribe
frame. Afterwards the hub holds no more fds or memory than before, counts only the
subscriber that stayed, is idle, and that one got every event exactly once, in order.

Regression: a client dropped while handling one event of a select() batch (say a
write to a departed reader failing) freed its fd number, a connection accepted in the
same batch reused it, and the dropped client's own stale EOF event then dropped the
new one instead: never acked, its socket leaked in the selector, the loop at 100% CPU."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from waitbus import emit, subscribe
from waitbus_store import Store, resolve_paths

EMIT_WORKER = Path(__file__).resolve().parents[1] / "emit_worker.py"
SESSIONS = 1000
WARM_UP = 100
HISTORY = 3000  # stored events a replay can start from
MB = 1024  # in kB, as /proc reports


def _session(i: int, raw_client, old_cursor: str, socket_path: str) -> None:
    """One subscriber's whole life, by kind."""
    kind = i % 8
    if kind == 7:  # half a subscribe frame, then gone
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(socket_path)
            s.sendall(b"\x00\x00\x00\x40{")
        return
    client = raw_client()
    try:
        if kind in (0, 1):  # live: read a frame or two (events or heartbeats) if any come
            client.subscribe()
            for _ in range(kind + 1):
                client.next(0.05)
        elif kind in (2, 3):  # replay from an old cursor; leave after a few frames, mid-replay
            client.subscribe(since=old_cursor)
            assert [f["kind"] for f in client.events(kind * 5, timeout=5)] == ["event"] * (kind * 5)
        elif kind == 4:  # a `where` the emitter's events match
            client.subscribe(where=[['source="agent"', 'event_type="load"']])
            client.next(0.05)
        elif kind == 5:  # a `where` nothing matches
            client.subscribe(where=[["fields.never=true"]])
        else:  # leave right after the ack, without reading
            client.subscribe()
    finally:
        client.close()


def _churn(sessions: range, raw_client, old_cursor: str, socket_path: str) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:  # overlapping lives, as on a real box
        for fut in [pool.submit(_session, i, raw_client, old_cursor, socket_path) for i in sessions]:
            fut.result()


@pytest.mark.timeout(120)
def test_a_thousand_subscribers_come_and_go_while_events_flow(hub, raw_client, probe, reap):
    p = probe(hub)
    old_cursor = emit("agent", "old", fields={"i": 0}).event_id
    for i in range(1, HISTORY):
        emit("agent", "old", fields={"i": i, "pad": "z" * 100})
    with Store(resolve_paths().db) as store:
        head = store.head()
    assert head is not None
    with subscribe(source="agent") as normal:
        emitter = reap(
            subprocess.Popen([sys.executable, str(EMIT_WORKER), "1000000", "churn", "0.002"], stderr=subprocess.PIPE)
        )
        sock = str(hub.socket)
        _churn(range(WARM_UP), raw_client, old_cursor, sock)  # warm-up: allocator pools, caches
        assert p.settle(lambda: p.stats()["subscribers"], 1) == 1  # the warm-up ones are gone
        fds_base, rss_base = p.fds(), p.rss_kb()

        _churn(range(WARM_UP, WARM_UP + SESSIONS), raw_client, old_cursor, sock)

        emitter.terminate()
        emitter.wait(10)
        done = emit("agent", "done").event_id
        got: list[str] = []
        while (frame := normal.get(20)) is not None:
            got.append(frame.event_id)
            if frame.event_id == done:
                break

    assert p.settle(p.fds, fds_base + 2) <= fds_base + 2
    assert p.rss_kb() - rss_base < 10 * MB
    assert p.settle(lambda: p.stats()["subscribers"], 0) == 0  # the normal one has closed too
    ticks = p.cpu_ticks()
    time.sleep(1.0)
    assert p.cpu_ticks() - ticks < 25  # idle: no leftover socket keeps its loop spinning
    with Store(resolve_paths().db) as store:
        logged = [r.event_id for r in store.read_after(head[0], 1_000_000)]
    assert len(logged) > 100  # the emitter really ran during the churn
    assert got == logged  # exactly once, in order, nothing missing
    assert p.log_problems() == []

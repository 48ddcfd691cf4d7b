"""End to end through real processes: emitters, a hub daemon, subscribers."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._support.bus import finish, start_subscriber, stored_ids
from waitbus import emit, subscribe, wait_for
from waitbus_store import resolve_paths as _paths

HERE = Path(__file__).parent


@pytest.mark.timeout(120)
def test_concurrent_emitters_reach_ten_subscribers_exactly_once_in_order(hub, reap, tmp_path):
    outs = [tmp_path / f"sub{i}.txt" for i in range(10)]
    subs = [
        start_subscriber(reap, out, "--match", 'event_type="load"', "--match", 'event_type="control"') for out in outs
    ]
    emitters = [
        reap(subprocess.Popen([sys.executable, str(HERE / "emit_worker.py"), "250", f"p{i}"])) for i in range(4)
    ]
    for proc in emitters:
        assert proc.wait(60) == 0
    finish(subs)
    expected = stored_ids()
    assert len(expected) == 1000  # every concurrent emit committed
    assert expected == sorted(expected)  # event ids sort in commit order
    for out in outs:
        assert out.read_text().split() == expected


@pytest.mark.timeout(60)
def test_events_emitted_with_no_hub_are_replayed_after_it_starts(hub_factory, tmp_path):
    first = emit("agent", "load", fields={"i": 0})
    ids = [first.event_id] + [emit("agent", "load", fields={"i": i}).event_id for i in range(1, 50)]
    assert not _paths().socket.exists()  # really no hub while emitting
    hub_factory()
    with subscribe(since=ids[9]) as sub:
        got = [sub.get(5) for _ in range(40)]
        live = emit("agent", "load", fields={"i": 50})
        after = sub.get(5)
    assert [f.event_id for f in got if f] == ids[10:]
    assert after is not None and after.event_id == live.event_id


@pytest.mark.timeout(60)
def test_wait_for_since_sees_an_event_emitted_just_before(hub):
    sent = emit("pytest", "pytest_session", fields={"outcome": "passed"})
    frame = wait_for('fields.outcome="passed"', source="pytest", since=5, timeout=5)
    assert frame is not None and frame.event_id == sent.event_id
    assert wait_for('fields.outcome="passed"', source="pytest", timeout=0.3) is None


@pytest.mark.timeout(180)
def test_kill9_of_the_hub_mid_stream_loses_and_duplicates_nothing(hub, reap, tmp_path):
    outs = [tmp_path / f"sub{i}.txt" for i in range(3)]
    subs = [start_subscriber(reap, out) for out in outs]
    emitter = reap(subprocess.Popen([sys.executable, str(HERE / "emit_worker.py"), "3000", "k", "0.0003"]))
    for _ in range(2):
        time.sleep(0.4)
        hub.kill()
        time.sleep(0.2)  # events keep being committed while no hub runs
        hub.start()
    assert emitter.wait(120) == 0
    finish(subs, timeout=120)
    expected = stored_ids()
    assert len(expected) == 3000
    for out in outs:
        got = out.read_text().split()
        assert len(got) == len(set(got)), "duplicate delivery"
        assert got == expected


@pytest.mark.timeout(60)
def test_sigterm_drains_queued_events_then_exits_zero(hub, raw_client):
    client = raw_client()
    client.subscribe()
    sent = [emit("agent", "load", fields={"i": i}).event_id for i in range(200)]
    hub.proc.send_signal(signal.SIGTERM)
    got = [f["event_id"] for f in client.events(200, timeout=10)]
    assert client.next(5) is None and client.eof  # then a clean EOF
    assert hub.proc.wait(10) == 0
    assert got == sent
    assert not _paths().socket.exists()  # the hub removed its socket


@pytest.mark.timeout(60)
def test_first_of_and_all_of(hub, await_subscribers):
    import threading

    result: dict[str, object] = {}

    def waiter() -> None:
        result["all"] = wait_for(all_of=['pytest:fields.outcome="passed"', 'docker:fields.action="die"'], timeout=10)

    t = threading.Thread(target=waiter)
    t.start()
    await_subscribers(1)
    emit("pytest", "pytest_session", fields={"outcome": "passed"})
    time.sleep(0.1)
    assert t.is_alive()  # all-of: one clause is not enough
    last = emit("docker", "docker_container", fields={"action": "die"})
    t.join(10)
    assert getattr(result["all"], "event_id", None) == last.event_id

    emit("fs", "fs_change", fields={"path": "a"})
    first = wait_for(first_of=['fs:fields.path="a"', 'pytest:fields.outcome="failed"'], since=5, timeout=5)
    assert first is not None and first.source == "fs"

"""The public SDK across real processes: messaging, asyncio, autostart, errors."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from waitbus import HubUnavailable, asubscribe, emit, request, subscribe, wait_event, wait_for
from waitbus_store import resolve_paths as _paths

RESPONDER = textwrap.dedent(
    """
    from waitbus import respond, wait_for
    print("ready", flush=True)
    msg = wait_for(to="agent_b", source="agent", timeout=20.0)
    if msg is not None:
        respond(msg, '{"answer": 42}')
    """
)


@pytest.mark.timeout(60)
def test_request_and_respond_between_two_processes(hub, reap, await_subscribers):
    responder = reap(subprocess.Popen([sys.executable, "-c", RESPONDER], stdout=subprocess.PIPE))
    assert responder.stdout is not None and responder.stdout.readline().strip() == b"ready"
    await_subscribers(1)
    reply = request("agent_b", '{"ask": "meaning"}', sender="agent_a", timeout=10.0)
    assert responder.wait(20) == 0
    assert reply is not None
    assert reply.fields["msg_body"] == '{"answer": 42}'
    assert reply.fields["msg_to"] == "agent_a" and reply.fields["msg_from"] == "agent_b"


@pytest.mark.timeout(30)
def test_request_times_out_with_none(hub):
    started = time.monotonic()
    assert request("nobody", "hi", sender="agent_a", timeout=0.5) is None
    # It waited its timeout (a lower bound holds however loaded the box); a hang is the
    # pytest timeout's to catch, not a wall-clock upper bound's.
    assert time.monotonic() - started > 0.4  # less a margin for timer slack


@pytest.mark.timeout(60)
def test_wait_event_does_its_idle_work_once_before_the_match_and_misses_nothing_meanwhile(hub):
    calls: list[int] = []

    def idle() -> None:
        calls.append(1)
        # Emitted while the idle work runs: the wait must still see it, and not idle again.
        emit("agent", "during_idle", fields={"n": len(calls)})

    view = wait_event(source="agent", timeout=20.0, on_idle=idle)
    assert calls == [1]
    assert view is not None and view.event_type == "during_idle" and view.fields["n"] == 1


@pytest.mark.timeout(60)
def test_wait_event_with_too_little_time_left_does_no_idle_work(hub):
    calls: list[int] = []
    assert wait_event(source="nobody", timeout=0.02, on_idle=lambda: calls.append(1)) is None
    assert calls == []


@pytest.mark.timeout(60)
def test_asubscribe_streams_and_resumes_after_a_hub_restart(hub):
    async def main() -> list[str]:
        got: list[str] = []
        first = emit("agent", "load", fields={"i": 0}).event_id
        # The generator subscribes lazily: since=5 s makes sure the first is seen.
        stream = asubscribe(source="agent", since=5)
        async for frame in stream:
            got.append(frame.event_id)
            if len(got) == 1:
                hub.kill()
                await asyncio.to_thread(emit, "agent", "load", fields={"i": 1})
                await asyncio.to_thread(hub.start)
            if len(got) == 2:
                break
        await stream.aclose()
        assert got[0] == first
        return got

    got = asyncio.run(main())
    assert len(got) == 2 and got[0] < got[1]


@pytest.mark.timeout(60)
def test_asubscribe_all_of_yields_the_event_completing_each_fresh_set(hub):
    async def main() -> list[int]:
        for i, key in enumerate(["a", "b", "b", "a", "a"]):
            emit("agent", "step", fields={key: 1, "i": i})
        stream = asubscribe(all_of=["agent:fields.a=1", "agent:fields.b=1"], since=30)
        got: list[int] = []
        async for frame in stream:
            got.append(frame.fields["i"])
            if len(got) == 2:
                break
        await stream.aclose()
        return got

    # sets: {a0, b1} completed by 1; then {b2, a3} completed by 3
    assert asyncio.run(main()) == [1, 3]


@pytest.mark.timeout(30)
def test_no_hub_and_autostart_off_is_a_clear_error():
    with pytest.raises(HubUnavailable, match="WAITBUS_NO_AUTOSTART"):
        wait_for(timeout=1)


WAITER = textwrap.dedent(
    """
    from waitbus import wait_for
    frame = wait_for('fields.go=true', timeout=30)
    print(frame.event_id if frame else "timeout", flush=True)
    """
)


@pytest.mark.timeout(90)
def test_concurrent_first_waiters_autostart_exactly_one_hub(monkeypatch, reap, await_subscribers):
    monkeypatch.delenv("WAITBUS_NO_AUTOSTART")
    waiters = [
        reap(subprocess.Popen([sys.executable, "-c", WAITER], stdout=subprocess.PIPE, text=True)) for _ in range(4)
    ]
    p = _paths()
    deadline = time.monotonic() + 30
    while not p.socket.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    await_subscribers(4)
    hub_pid = int(p.hub_lock.read_text())
    try:
        sent = emit("agent", "go", fields={"go": True}).event_id
        outs = [w.communicate(timeout=30)[0].strip() for w in waiters]
        assert outs == [sent] * 4
        # Every process started for our runtime dir that runs a hub: exactly one.
        mine = [
            pid
            for pid in _pids()
            if f"WAITBUS_RUNTIME_DIR={p.runtime_dir}" in _environ(pid)
            and ("broadcast\0serve" in _cmdline(pid) or "waitbus_hub" in _cmdline(pid))
        ]
        assert mine == [hub_pid]
    finally:
        os.kill(hub_pid, signal.SIGTERM)


def _pids() -> list[int]:
    return [int(d) for d in os.listdir("/proc") if d.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().decode(errors="replace")
    except OSError:
        return ""


def _environ(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            return f.read().replace(b"\0", b"\n").decode(errors="replace")
    except OSError:
        return ""


@pytest.mark.timeout(60)
def test_subscription_survives_a_sigterm_restart_without_gap(hub):
    with subscribe(source="agent") as sub:
        a = emit("agent", "load", fields={"i": 0}).event_id
        assert sub.get(5).event_id == a
        assert hub.terminate() == 0
        b = emit("agent", "load", fields={"i": 1}).event_id  # emitted while no hub runs
        hub.start()
        c = emit("agent", "load", fields={"i": 2}).event_id
        assert [sub.get(10).event_id, sub.get(10).event_id] == [b, c]

"""Hubs that race each other and socket files left by a crash.

Already proven elsewhere (not repeated here):
- integration/test_hub_guarantees.py::test_a_second_hub_refuses_to_start_and_says_why (one
  hub after another) and ::test_stale_socket_from_a_crash_is_replaced (a hub started by
  hand over the files of a killed one);
- integration/test_sdk_end_to_end.py::test_concurrent_first_waiters_autostart_exactly_one_hub
  (four first waiters autostart one hub between them).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from tests._support import faults as fh
from waitbus import emit
from waitbus._hubinfo import hub_stats
from waitbus_store import resolve_paths

# Each racer imports the hub first, then waits for "go": the four then take the lock
# within microseconds of each other, not a Python start-up apart.
RACER = """
import sys
from waitbus_hub._main import main
print("ready", flush=True)
sys.stdin.read(1)
sys.exit(main(["--log-level", "WARNING"]))
"""
RACERS = 4


def race(reap: Callable[[Any], Any]) -> list[subprocess.Popen[str]]:
    hubs = [
        reap(
            subprocess.Popen(
                [sys.executable, "-c", RACER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        for _ in range(RACERS)
    ]
    for h in hubs:
        assert h.stdout is not None and h.stdout.readline() == "ready\n"
    for h in hubs:  # all at once
        assert h.stdin is not None
        h.stdin.write("g")
        h.stdin.close()
    return hubs


@pytest.mark.timeout(120)
def test_four_hubs_started_at_once_one_serves_and_the_others_exit_3_naming_it(hub_factory, reap, raw_client):
    hub_factory().kill()  # a crashed hub's lock file (with its dead pid) and sockets are left behind
    paths = resolve_paths()
    for _ in range(3):
        hubs = race(reap)
        deadline = time.monotonic() + 30
        while sum(h.poll() is None for h in hubs) > 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        (winner,) = [h for h in hubs if h.poll() is None]
        for loser in hubs:
            if loser is not winner:
                assert loser.returncode == 3
                assert loser.stderr is not None
                assert loser.stderr.read() == (
                    f"waitbus-hub: another hub (pid {winner.pid}) is already serving {paths.socket}\n"
                )
        assert paths.hub_lock.read_text() == str(winner.pid)
        fh.wait_until(lambda: hub_stats(paths.socket)[0], "the winner to answer")
        client = raw_client()
        client.subscribe()
        sent = emit("agent", "load").event_id
        assert [f["event_id"] for f in client.events(1)] == [sent]  # the winner serves
        client.close()
        winner.send_signal(signal.SIGTERM)
        assert winner.wait(15) == 0


@pytest.mark.timeout(90)
def test_a_waiter_autostarts_a_hub_over_the_files_of_a_killed_one(hub_factory, monkeypatch):
    killed = hub_factory()
    killed.kill()
    paths = resolve_paths()
    assert paths.socket.exists() and paths.doorbell.exists() and paths.hub_lock.exists()
    sent = emit("agent", "while_down").event_id
    monkeypatch.setenv("WAITBUS_NO_AUTOSTART", "0")
    done = fh.cli("wait", "--since", "1m", "--match", 'event_type="while_down"', "--json", "--timeout", "30s")
    new_pid = int(paths.hub_lock.read_text())
    try:
        assert done.returncode == 0, done.stderr
        assert sent in done.stdout
        assert new_pid != killed.pid
    finally:
        os.kill(new_pid, signal.SIGTERM)  # the hub the waiter started (it outlives the waiter)
    fh.wait_until(lambda: not paths.socket.exists(), "the autostarted hub to stop")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("leftover", ["socket-of-a-killed-hub", "regular-file"])
def test_without_autostart_a_dead_socket_file_is_a_clear_exit_2_not_a_hang(hub_factory, leftover):
    paths = resolve_paths()
    if leftover == "regular-file":
        paths.ensure()
        paths.socket.write_text("not a socket")
    else:
        hub_factory().kill()
    t0 = time.monotonic()
    done = fh.cli("wait", "--match", 'event_type="x"', "--timeout", "60s")
    assert time.monotonic() - t0 < 30  # told at once, not after the timeout
    assert done.returncode == 2
    assert f"no hub is listening at {paths.socket}" in done.stderr and "waitbus broadcast serve" in done.stderr

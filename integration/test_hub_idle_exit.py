"""A hub a client started in the background exits once idle, and any hub whose event
log is deleted exits; nothing is lost, since emit needs no hub and the next waiter
starts one again. Hubs run on purpose (by hand, systemd, launchd) stay unless asked."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._support import faults as fh
from tests._support import wait_until
from waitbus_store import resolve_paths

IDLE = "1.5"  # seconds: WAITBUS_IDLE_EXIT_SEC for these tests


def _gone(pid: int) -> bool:
    """Exited (a zombie no one reaps counts: the hub's parent, the waiter, has gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@pytest.fixture
def autostart(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAITBUS_NO_AUTOSTART", "0")
    monkeypatch.setenv("WAITBUS_IDLE_EXIT_SEC", IDLE)


@pytest.mark.timeout(120)
@pytest.mark.usefixtures("autostart")
def test_an_autostarted_hub_stays_while_used_exits_when_idle_and_the_next_waiter_starts_another():
    paths = resolve_paths()
    pids: list[int] = []
    try:
        # A waiter connected longer than the idle period keeps the hub.
        waited = fh.cli("wait", "--match", 'event_type="never"', "--timeout", "4s")
        assert waited.returncode == 124, waited.stderr
        pids.append(int(paths.hub_lock.read_text()))
        assert not _gone(pids[0]), "the hub exited while a waiter was connected"
        # Then, with no client, it goes: the socket is removed, the process ends.
        wait_until(lambda: _gone(pids[0]), "the idle autostarted hub to exit", 30)
        assert not paths.socket.exists()
        assert "no client for 1.5 s: exiting" in paths.hub_log.read_text()

        # Nothing is lost: emit works with no hub, the next waiter starts one and replays it.
        emitted = fh.cli("emit", "agent", "while_no_hub", "n=1")
        assert emitted.returncode == 0, emitted.stderr
        event_id = emitted.stdout.split()[0]
        got = fh.cli("wait", "--since", "1m", "--match", 'event_type="while_no_hub"', "--json", "--timeout", "30s")
        assert got.returncode == 0, got.stderr
        assert event_id in got.stdout
        pids.append(int(paths.hub_lock.read_text()))
        assert pids[1] != pids[0]
        wait_until(lambda: _gone(pids[1]), "the second autostarted hub to exit", 30)
    finally:
        for pid in pids:
            _kill(pid)


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("autostart")
@pytest.mark.parametrize("how", ["python -m waitbus_hub", "waitbus broadcast serve"])
def test_a_hub_run_on_purpose_never_exits_idle_unless_asked(how, reap):
    cmd = [sys.executable, "-m", "waitbus_hub"] if how.startswith("python") else [fh.WAITBUS, "broadcast", "serve"]
    paths = resolve_paths()
    stays = reap(subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_until(paths.socket.exists, "the hub's socket")
    time.sleep(3 * float(IDLE))
    assert stays.poll() is None, "a hub run by hand exited when idle"
    stays.send_signal(signal.SIGTERM)
    assert stays.wait(15) == 0

    asked = reap(subprocess.Popen([*cmd, "--idle-exit", "0.5"], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    assert asked.wait(30) == 0  # asked to exit when idle: a clean stop


@pytest.mark.timeout(90)
def test_a_hub_whose_state_dir_is_deleted_exits_and_a_waiter_gets_a_fresh_one(hub_factory, raw_client, monkeypatch):
    hub = hub_factory(["--heartbeat-sec", "1"])  # a hub run by hand: it never exits idle
    client = raw_client()
    client.subscribe()  # the hub is serving (its log is open)
    paths = resolve_paths()
    shutil.rmtree(paths.state_dir)
    assert hub.proc is not None
    assert hub.proc.wait(30) == 2
    assert "is gone or was replaced" in hub.log_text()
    assert not paths.socket.exists()
    client.events(1, timeout=5)
    assert client.eof  # drained: its SDK would reconnect and start a hub on the new log

    monkeypatch.setenv("WAITBUS_NO_AUTOSTART", "0")
    monkeypatch.setenv("WAITBUS_IDLE_EXIT_SEC", IDLE)
    emitted = fh.cli("emit", "agent", "after_delete")
    assert emitted.returncode == 0, emitted.stderr
    got = fh.cli("wait", "--since", "1m", "--match", 'event_type="after_delete"', "--timeout", "30s")
    pid = int(paths.hub_lock.read_text())
    try:
        assert got.returncode == 0, got.stderr
        assert pid != hub.pid
    finally:
        _kill(pid)


@pytest.mark.timeout(60)
def test_the_idle_period_comes_from_the_config_file_for_an_autostarted_hub_only(tmp_path, monkeypatch, reap):
    config = tmp_path / "config.toml"
    config.write_text("[hub]\nidle_exit_sec = 1\n")
    monkeypatch.setenv("WAITBUS_CONFIG", str(config))
    monkeypatch.delenv("WAITBUS_IDLE_EXIT_SEC", raising=False)
    serve = [fh.WAITBUS, "broadcast", "serve"]
    paths = resolve_paths()

    stays = reap(subprocess.Popen(serve, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    wait_until(paths.socket.exists, "the hub's socket")
    time.sleep(3)
    assert stays.poll() is None, "a hub run by hand took the autostart idle period from the config"
    stays.send_signal(signal.SIGTERM)
    assert stays.wait(15) == 0

    started = time.monotonic()
    autostarted = reap(subprocess.Popen([*serve, "--autostarted"], stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    assert autostarted.wait(30) == 0
    assert time.monotonic() - started < 20  # 1 s from the config, not the 600 s default

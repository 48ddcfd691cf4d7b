"""Daemon entry points: `broadcast serve` with config defaults, `serve`, `listener forward`,
and the doors whose packages are not built yet (they must say so and exit 2)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests._support import WAITBUS, free_port, run_cli
from waitbus_store import resolve_paths


def start(reap, *args: str):
    log = open(Path(os.environ["WAITBUS_RUNTIME_DIR"]) / "daemon.log", "wb")  # noqa: SIM115
    proc = reap(subprocess.Popen([WAITBUS, *args], stdout=log, stderr=log, env=os.environ.copy()))
    log.close()
    sock = resolve_paths().socket
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited {proc.returncode}: {daemon_log()}"
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(str(sock))
            return proc
        except OSError:
            time.sleep(0.02)
        finally:
            s.close()
    raise AssertionError(f"no hub socket: {daemon_log()}")


@pytest.fixture(autouse=True)
def _private_listener_port(monkeypatch):
    """`serve` starts the listener when sources with routes are installed: never on 9000."""
    monkeypatch.setenv("WAITBUS_LISTENER__PORT", str(free_port()))


def daemon_log() -> str:
    path = Path(os.environ["WAITBUS_RUNTIME_DIR"]) / "daemon.log"
    return path.read_text() if path.exists() else ""


# -- doors (the doors themselves are tested in test_cli_sources.py) -----------------------------


def test_unknown_source_is_a_clear_error():
    out = run_cli("source", "carrier-pigeon")
    assert out.returncode == 2
    assert "unknown source 'carrier-pigeon'" in out.stderr and "installed:" in out.stderr


# -- broadcast serve ----------------------------------------------------------------------------


def test_broadcast_serve_takes_the_heartbeat_from_the_config_file(tmp_path, monkeypatch, reap, raw_client):
    config = tmp_path / "config.toml"
    config.write_text("[hub]\nheartbeat_sec = 1\n")
    monkeypatch.setenv("WAITBUS_CONFIG", str(config))
    proc = start(reap, "broadcast", "serve", "--log-level", "WARNING")
    client = raw_client()
    assert client.subscribe()["heartbeat_sec"] == 1
    frame = client.next(5)  # a heartbeat within ~1 s, not the default 60 s
    assert frame is not None and frame["kind"] == "daemon_heartbeat"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


def test_broadcast_serve_leaves_the_cli_behind_once_the_hub_runs(reap):
    """The hub lives for days: after reading the config the CLI execs a bare hub, so
    typer and pydantic (~20 MB) are not kept resident; the pid stays the same."""
    proc = start(reap, "broadcast", "serve", "--log-level", "WARNING")
    cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    assert cmdline[1:3] == [b"-m", b"waitbus_hub"], cmdline
    maps = Path(f"/proc/{proc.pid}/maps").read_text()
    assert "pydantic_core" not in maps
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


def test_broadcast_serve_command_line_beats_the_config(tmp_path, monkeypatch, reap, raw_client):
    config = tmp_path / "config.toml"
    config.write_text("[hub]\nheartbeat_sec = 1\n")
    monkeypatch.setenv("WAITBUS_CONFIG", str(config))
    start(reap, "broadcast", "serve", "--heartbeat-sec", "7")
    assert raw_client().subscribe()["heartbeat_sec"] == 7


def test_broadcast_serve_with_a_bad_config_exits_2_naming_the_key(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("[hub]\nlag_limit_bytes = 10\n")
    monkeypatch.setenv("WAITBUS_CONFIG", str(config))
    out = run_cli("broadcast", "serve")
    assert out.returncode == 2
    assert "hub.lag_limit_bytes" in out.stderr and "Traceback" not in out.stderr
    assert not resolve_paths().socket.exists()


# -- serve ----------------------------------------------------------------------------------------


def test_serve_runs_a_working_hub_and_stops_cleanly_on_sigterm(reap):
    from waitbus import emit, subscribe

    proc = start(reap, "serve")
    with subscribe(source="agent") as sub:
        event_id = emit("agent", "served", fields={"n": 1}).event_id
        frame = sub.get(timeout=10)
    assert frame is not None and frame.event_id == event_id
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    log = daemon_log()
    assert "listener" in log  # it says whether (and why not) it runs the listener
    for name in ("etag-poll", "silence-check"):
        assert f"not running {name}: a periodic job" in log
    assert not resolve_paths().socket.exists()


def test_serve_exits_130_on_sigint_and_3_when_a_hub_already_runs(reap, hub):
    second = run_cli("serve")
    assert second.returncode == 3 and f"pid {hub.pid}" in second.stderr
    hub.terminate()
    # SIGINT the moment the socket answers, several times: a signal landing before serve
    # wraps the hub's handler must still be an interrupt (130), not a clean stop (0).
    for _ in range(4):
        proc = start(reap, "serve", "--log-level", "WARNING")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 130
        assert "Traceback" not in daemon_log()


# -- listener forward (what waitbus-forward@.service runs) ----------------------------------------


@pytest.fixture
def fake_gh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gh = bin_dir / "gh"
    gh.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{tmp_path}/gh-args"\nexit 0\n')
    gh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return tmp_path / "gh-args"


def test_listener_forward_execs_gh_with_the_staged_secret(fake_gh, monkeypatch):
    assert run_cli("install-credentials", "github-webhook-secret", input="fwd-VALUE-77").returncode == 0
    monkeypatch.setenv("WAITBUS_LISTENER__PORT", "9123")
    out = run_cli("listener", "forward", "octo/app")
    assert out.returncode == 0, out.stderr
    assert fake_gh.read_text().splitlines() == [
        "webhook",
        "forward",
        "--repo=octo/app",
        "--events=workflow_run,workflow_job",
        "--url=http://127.0.0.1:9123/webhook",
        "--secret=fwd-VALUE-77",
    ]
    assert "fwd-VALUE" not in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("repo", "stage", "message"),
    [("octo/app", False, "install-credentials github-webhook-secret"), ("not-a-repo", True, "not owner/repo")],
)
def test_listener_forward_refuses_without_secret_or_with_a_bad_repo(fake_gh, repo, stage, message):
    if stage:
        assert run_cli("install-credentials", "github-webhook-secret", input="v").returncode == 0
    out = run_cli("listener", "forward", repo)
    assert out.returncode == 2 and message in out.stderr
    assert not fake_gh.exists()


def test_broadcast_serve_is_socket_activated_like_under_systemd(reap, raw_client):
    """What waitbus-broadcast.socket + .service do: systemd-socket-activate binds the
    socket, then execs `waitbus broadcast serve` with LISTEN_FDS=1 on the first connection."""
    import shutil

    activate = shutil.which("systemd-socket-activate")
    if activate is None:
        pytest.skip("systemd-socket-activate is not installed")
    sock = resolve_paths().socket
    sock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    keep = ("WAITBUS_STATE_DIR", "WAITBUS_RUNTIME_DIR", "WAITBUS_NO_AUTOSTART", "PATH")
    log = open(sock.parent / "daemon.log", "wb")  # noqa: SIM115
    proc = reap(
        subprocess.Popen(
            [activate, *(f"-E{k}" for k in keep), "-l", str(sock), WAITBUS, "broadcast", "serve"],
            stdout=log,
            stderr=log,
            env=os.environ.copy(),
        )
    )
    log.close()
    deadline = time.monotonic() + 10
    while not sock.exists():
        assert proc.poll() is None and time.monotonic() < deadline, daemon_log()
        time.sleep(0.02)
    client = raw_client()  # this connection starts the hub
    client.subscribe()
    event_id = run_cli("emit", "agent", "activated").stdout.strip()
    (frame,) = client.events(1)
    assert frame["event_id"] == event_id
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0
    assert "serving" in daemon_log()
    assert sock.exists(), "the socket belongs to the activator: the hub must not unlink it"

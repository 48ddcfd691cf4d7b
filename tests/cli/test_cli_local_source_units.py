"""The docker and fs sources as supervised units (issue 14 item 3): install-systemd and
install-launchd enable each only when it has something to watch, doctor reports each,
and `waitbus fs-watch run` watches the config's [fs] paths.

The engine is a real AF_UNIX socket bound in tmp and named by DOCKER_HOST (the installer
only looks for a socket; no engine has to answer). `systemctl`/`launchctl` are stand-ins
that log their arguments: no user manager runs here."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support import WAITBUS, run_cli


def tool(bin_dir: Path, name: str, body: str) -> Path:
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text(f'#!/bin/sh\necho "$*" >> "{bin_dir}/{name}.log"\n{body}\n')
    (bin_dir / name).chmod(0o755)
    return bin_dir / f"{name}.log"


@pytest.fixture
def engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    path = tmp_path / "engine.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(path))
    sock.listen()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{path}")
    yield f"unix://{path}"
    sock.close()


@pytest.fixture
def no_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")


@pytest.fixture
def fs_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    watched = tmp_path / "watched"
    watched.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f'[fs]\npaths = ["{watched}"]\n')
    monkeypatch.setenv("WAITBUS_CONFIG", str(config))
    return watched


@pytest.fixture
def systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    log = tool(tmp_path / "bin", "systemctl", "exit 0")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{Path(WAITBUS).parent}:{os.environ['PATH']}")
    return log


def enabled(log: Path) -> list[str]:
    return next(line for line in log.read_text().splitlines() if line.startswith("--user enable")).split()[2:]


BASE = ["waitbus-broadcast.socket", "waitbus-etag-poll.timer", "waitbus-watchdog.timer"]


@pytest.mark.usefixtures("no_engine")
def test_with_nothing_to_watch_neither_source_is_enabled_and_it_says_why(systemctl):
    out = run_cli("install-systemd")
    assert out.returncode == 0, out.stderr
    assert enabled(systemctl) == BASE
    assert "the docker source is off: no Docker-API socket found" in out.stdout
    assert "the fs source is off: [fs] paths is empty" in out.stdout


def test_an_engine_socket_and_fs_paths_enable_both_units(systemctl, engine, fs_paths):
    out = run_cli("install-systemd")
    assert out.returncode == 0, out.stderr
    assert enabled(systemctl) == [*BASE, "waitbus-source-docker.service", "waitbus-source-fs.service"]
    assert f"the docker source watches engine {engine}" in out.stdout
    assert f"the fs source watches {fs_paths}" in out.stdout


def test_launchd_loads_the_source_agents_only_with_something_to_watch(tmp_path, monkeypatch, engine):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("WAITBUS_TEST_PLATFORM", "darwin")
    log = tool(tmp_path / "bin", "launchctl", 'case "$1" in print) exit 113;; esac; exit 0')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    assert run_cli("install-launchd").returncode == 0
    boots = " ".join(line for line in log.read_text().splitlines() if line.startswith("bootstrap"))
    assert "dev.waitbus.source-docker.plist" in boots  # the engine socket is there
    assert "dev.waitbus.source-fs.plist" not in boots  # no [fs] paths


def doctor() -> dict[str, dict[str, str]]:
    out = run_cli("doctor", "--json")
    return {c["name"]: c for c in json.loads(out.stdout)["checks"]}


@pytest.mark.usefixtures("systemctl")
def test_doctor_reports_each_local_source(engine, fs_paths, tmp_path, monkeypatch):
    checks = doctor()
    assert checks["source docker"]["status"] == "WARN"
    assert "not enabled: re-run `waitbus install-systemd`" in checks["source docker"]["detail"]
    assert checks["source fs"]["status"] == "WARN" and str(fs_paths) in checks["source fs"]["detail"]
    # What `systemctl --user enable` leaves behind.
    units = Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user"
    assert run_cli("install-systemd").returncode == 0
    (units / "default.target.wants").mkdir(exist_ok=True)
    for unit in ("waitbus-source-docker.service", "waitbus-source-fs.service"):
        (units / "default.target.wants" / unit).symlink_to(units / unit)
    checks = doctor()
    assert checks["source docker"]["status"] == "ok"
    assert checks["source docker"]["detail"] == f"engine {engine}; waitbus-source-docker.service enabled"
    assert checks["source fs"]["detail"] == f"{fs_paths}; waitbus-source-fs.service enabled"
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/gone.sock")
    monkeypatch.setenv("WAITBUS_CONFIG", str(tmp_path / "none.toml"))
    checks = doctor()
    assert checks["source docker"] == {
        "name": "source docker",
        "status": "ok",
        "detail": "off: no Docker-API socket found (Docker, rootless Docker, podman)",
    }
    assert checks["source fs"]["detail"] == "off: [fs] paths is empty (nothing is watched until asked)"


def test_fs_watch_run_with_no_paths_says_so_and_exits_0(tmp_path, monkeypatch):
    monkeypatch.setenv("WAITBUS_CONFIG", str(tmp_path / "none.toml"))
    out = run_cli("fs-watch", "run")
    assert out.returncode == 0
    assert "nothing to watch: [fs] paths is empty" in out.stderr


@pytest.mark.timeout(60)
def test_fs_watch_run_watches_the_configured_paths_recursively(fs_paths, reap, tmp_path):
    from waitbus_store import Store, resolve_paths

    err = tmp_path / "fs-watch.err"
    with err.open("wb") as f:
        proc = reap(subprocess.Popen([WAITBUS, "fs-watch", "run"], stderr=f, stdout=subprocess.DEVNULL))
    deadline = time.monotonic() + 20
    while "watching" not in err.read_text():
        assert proc.poll() is None and time.monotonic() < deadline, err.read_text()
        time.sleep(0.02)
    assert "(recursive" in err.read_text()
    (fs_paths / "deep" / "er").mkdir(parents=True)
    (fs_paths / "deep" / "er" / "f.txt").write_text("x")
    rels: list[str] = []
    while "deep/er/f.txt" not in rels:
        assert time.monotonic() < deadline + 10, rels
        time.sleep(0.05)
        if resolve_paths().db.exists():
            with Store(resolve_paths().db) as store:
                rels = [json.loads(r.fields).get("rel") for r in store.read_after(0, 1000)]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) == 0


def test_a_bad_fs_config_is_exit_2(tmp_path, monkeypatch):
    config = tmp_path / "config.toml"
    config.write_text("[fs]\npaths = 3\n")
    monkeypatch.setenv("WAITBUS_CONFIG", str(config))
    out = run_cli("fs-watch", "run")
    assert out.returncode == 2 and "fs.paths" in out.stderr

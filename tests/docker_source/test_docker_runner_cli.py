"""The runner as a process, without an engine: arguments, giving up, signals.

Everything that needs a running engine is in integration/sources/test_src_docker.py
(against podman's real Docker API service)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from waitbus_sources_docker._cli import parse_since
from waitbus_sources_docker._runner import backoff

RUNNER = "import sys; from waitbus_sources_docker import SOURCE; sys.exit(SOURCE.runner(sys.argv[1:]))"


def runner(*args: str, host: str | None = None, **kw: object) -> subprocess.Popen[str]:
    env = dict(os.environ)
    if host is not None:
        env["DOCKER_HOST"] = host
    return subprocess.Popen(
        [sys.executable, "-c", RUNNER, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kw,  # type: ignore[call-overload]
    )


def test_parse_since() -> None:
    now = 1_700_000_000 * 10**9
    assert parse_since("10m", now) == now - 600 * 10**9
    assert parse_since("1.5h", now) == now - 5400 * 10**9
    assert parse_since("1700000000", now) == now
    assert parse_since("1700000000.25", now) == now + 250_000_000
    assert parse_since("2023-11-14T22:13:20Z", now) == now
    assert parse_since("2023-11-14T22:13:20", now) == now  # no offset: UTC
    assert parse_since("2023-11-15T00:13:20+02:00", now) == now
    with pytest.raises(ValueError, match="ISO 8601"):
        parse_since("yesterday", now)


def test_backoff_is_bounded() -> None:
    assert [backoff(n) for n in (1, 2, 3, 4, 5, 6, 50)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


@pytest.mark.timeout(60)
def test_unreachable_engine_exits_2_after_max_retries(tmp_path: Path) -> None:
    sock = tmp_path / "nobody-listens.sock"
    proc = runner("--max-retries", "3", host=f"unix://{sock}")
    out, err = proc.communicate(timeout=45)
    assert proc.returncode == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 3, err  # one line per failed attempt: two retries announced, then the verdict
    assert all(str(sock) in line for line in lines)
    assert "retrying in 0.5s" in lines[0] and "retrying in 1.0s" in lines[1]
    assert "after 3 attempt(s)" in lines[2] and "giving up" in lines[2]
    assert out == ""


@pytest.mark.timeout(60)
def test_host_flag_wins_over_docker_host(tmp_path: Path) -> None:
    proc = runner("--max-retries", "1", "--host", f"unix://{tmp_path}/flag.sock", host=f"unix://{tmp_path}/env.sock")
    _, err = proc.communicate(timeout=45)
    assert proc.returncode == 2
    assert "flag.sock" in err and "env.sock" not in err


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_signal_while_waiting_for_the_engine_stops_cleanly(tmp_path: Path, sig: int, code: int) -> None:
    proc = runner(host=f"unix://{tmp_path}/absent.sock")
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first "cannot reach" line: it is in its backoff loop
        assert "cannot reach the Docker engine" in first
        started = time.monotonic()
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
        assert time.monotonic() - started < 5, "a signal must cut the backoff sleep short"
        assert proc.returncode == code, err
        assert "stopped" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def test_usage_errors_exit_2_and_help_exits_0() -> None:
    for args in (["--since", "whenever"], ["--max-retries", "-1"], ["--bogus"]):
        proc = runner(*args)
        out, err = proc.communicate(timeout=30)
        assert proc.returncode == 2, (args, err)
        assert "waitbus source docker" in err
    proc = runner("--help")
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert "--max-retries" in out and "DOCKER_HOST" in out


@pytest.mark.timeout(60)
def test_unreadable_cursor_is_reported_not_fatal(tmp_path: Path) -> None:
    state = tmp_path / "cursor.json"
    state.write_text("{garbage")
    proc = runner("--state-file", str(state), "--max-retries", "1", host=f"unix://{tmp_path}/absent.sock")
    _, err = proc.communicate(timeout=45)
    assert proc.returncode == 2
    assert f"ignoring the unreadable cursor {state}" in err

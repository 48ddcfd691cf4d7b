"""The product README's command lines, as written, in one hermetic session.

(The wait examples and `pr-monitor tick --pr 7 --pr 9` are run verbatim in
test_cli_wait.py and test_cli_daemons.py.)"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def sh(line: str, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PATH": f"{os.environ['WB_TEST_FAKE_BIN']}:{BIN}:{os.environ['PATH']}"}
    return subprocess.run(["bash", "-c", line], capture_output=True, text=True, timeout=60, env=env, **kw)


@pytest.fixture(autouse=True)
def no_user_manager(tmp_path, monkeypatch):
    """A stand-in `systemctl` that cannot reach a user manager (as in CI), so the test
    never touches a real session's units. The real one is never called."""
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    tool = fake / "systemctl"
    tool.write_text("#!/bin/sh\necho 'Failed to connect to bus: No medium found' >&2\nexit 1\n")
    tool.chmod(0o755)
    monkeypatch.setenv("WB_TEST_FAKE_BIN", str(fake))


@pytest.mark.timeout(120)
@pytest.mark.skipif(shutil.which("openssl") is None, reason="the README pipes `openssl rand`; openssl is not installed")
def test_quick_start_and_operating_lines(hub, waitbus_env):
    assert sh("waitbus init").returncode == 0
    staged = sh("openssl rand -hex 32 | waitbus install-credentials github-webhook-secret")
    assert staged.returncode == 0, staged.stderr
    secrets = Path(waitbus_env["WAITBUS_STATE_DIR"]) / "secrets.json"
    value = json.loads(secrets.read_text())["github-webhook-secret"]
    assert len(value) == 64 and value not in staged.stdout + staged.stderr
    assert sh("waitbus install-systemd").returncode == 0  # no user manager here: it says it skipped enabling
    units = Path(waitbus_env["XDG_CONFIG_HOME"]) / "systemd" / "user"
    assert len(list(units.glob("waitbus-*"))) == 11  # with the docker and fs source units
    refused = sh("waitbus install-launchd")
    assert refused.returncode == 2 and "install-systemd" in refused.stderr
    assert sh("waitbus emit agent hello").returncode == 0
    listed = sh("waitbus read-events list --since 1h --json")
    assert [e["event_type"] for e in json.loads(listed.stdout)] == ["hello"]
    status = sh("waitbus status --json")
    assert json.loads(status.stdout)["hub"]["alive"] is True


@pytest.mark.timeout(60)
def test_read_events_watch_tails_until_ctrl_c(hub, await_subscribers, reap):
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}"}
    proc = reap(
        subprocess.Popen(
            ["bash", "-c", "exec waitbus read-events watch"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    )
    await_subscribers(1)
    assert sh("waitbus emit pytest pytest_session outcome='\"passed\"'").returncode == 0
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert "pytest/pytest_session" in line
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 130

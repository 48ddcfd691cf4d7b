"""examples/bash/wait-for-ci.sh against a real hub, fed by the real `waitbus emit`.

Each verdict is checked twice where it matters: with jq on PATH and without it (the
wrapper then reads waitbus's compact JSON itself).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests._support import WAITBUS, run_cli

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "examples" / "bash" / "wait-for-ci.sh"
BASH = shutil.which("bash") or "/bin/bash"

JQ_MODES = [
    pytest.param("jq", marks=pytest.mark.skipif(shutil.which("jq") is None, reason="jq is not installed")),
    "no-jq",
]


def start(reap, tmp_path: Path, *args: str, jq: str = "jq") -> subprocess.Popen[str]:
    env = {**os.environ, "WAITBUS": WAITBUS}
    if jq == "no-jq":
        empty = tmp_path / "bin-without-jq"
        empty.mkdir(exist_ok=True)
        env["PATH"] = str(empty)  # no jq, no sed: the script must still read the verdict
    proc = subprocess.Popen(
        [BASH, str(SCRIPT), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    reap(proc)
    return proc


def result(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=30)
    return proc.returncode, out, err


def emit(*args: str) -> str:
    out = run_cli("emit", *args)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("jq", JQ_MODES)
def test_sha_red_is_exit_1_and_ignores_runs_still_in_progress(hub, reap, await_subscribers, tmp_path, jq):
    proc = start(reap, tmp_path, "sha", "7f3a1b2", "--timeout", "20s", jq=jq)
    await_subscribers(1)
    emit("github", "workflow_run", 'head_sha="7f3a1b2c9d"', 'status="in_progress"', "conclusion=null")
    emit("github", "workflow_run", 'head_sha="0000000aaa"', 'status="completed"', 'conclusion="success"')  # other sha
    emit(
        "github",
        "workflow_run",
        'head_sha="7f3a1b2c9d"',
        'status="completed"',
        'conclusion="failure"',
        "--summary",
        "workflow_run CI completed: failure",
    )
    rc, out, _ = result(proc)
    assert rc == 1
    assert out.strip() == "RED: CI for 7f3a1b2 failed (failure): workflow_run CI completed: failure"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("jq", JQ_MODES)
def test_sha_green_already_in_the_log_is_exit_0(hub, reap, tmp_path, jq):
    # Nested as in the raw webhook, and stored before the wait starts: the default
    # look-back (1 day) finds it.
    emit(
        "github",
        "workflow_run",
        'workflow_run.head_sha="aaaabbbbcccc"',
        'workflow_run.status="completed"',
        'workflow_run.conclusion="success"',
        "--summary",
        "workflow_run CI completed: success",
    )
    rc, out, _ = result(start(reap, tmp_path, "sha", "aaaabbbb", "--timeout", "20s", jq=jq))
    assert rc == 0
    assert out.strip() == "GREEN: CI for aaaabbbb passed: workflow_run CI completed: success"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("jq", JQ_MODES)
def test_pytest_failed_in_a_rootdir_is_exit_1(hub, reap, await_subscribers, tmp_path, jq):
    rootdir = '/home/me/my "odd" proj'
    proc = start(reap, tmp_path, "pytest", "--rootdir", rootdir, "--timeout", "20s", jq=jq)
    await_subscribers(1)
    emit("pytest", "pytest_session", 'outcome="failed"', 'rootdir="/elsewhere"', "--summary", "not this one")
    emit(
        "pytest",
        "pytest_session",
        'outcome="failed"',
        "failed=3",
        'rootdir="/home/me/my \\"odd\\" proj"',
        "--summary",
        "pytest failed: 3 failed, 9 passed in 1.00s",
    )
    rc, out, _ = result(proc)
    assert rc == 1
    assert (
        out.strip()
        == f"RED: the pytest session in {rootdir} ended 'failed': pytest failed: 3 failed, 9 passed in 1.00s"
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("jq", JQ_MODES)
def test_pytest_passed_is_exit_0(hub, reap, await_subscribers, tmp_path, jq):
    proc = start(reap, tmp_path, "pytest", "--timeout", "20s", jq=jq)
    await_subscribers(1)
    emit("pytest", "pytest_failure", 'nodeid="t.py::x"')  # not a session: ignored
    emit("pytest", "pytest_session", 'outcome="passed"', "passed=12", "--summary", "pytest passed: 12 passed")
    rc, out, _ = result(proc)
    assert rc == 0
    assert out.strip() == "GREEN: the pytest session passed: pytest passed: 12 passed"


@pytest.mark.timeout(60)
def test_pytest_sessions_from_before_the_wait_do_not_count_without_since(hub, reap, tmp_path):
    emit("pytest", "pytest_session", 'outcome="passed"')
    rc, out, err = result(start(reap, tmp_path, "pytest", "--timeout", "1s"))
    assert rc == 124 and out == ""
    assert "TIMEOUT: no verdict for the pytest session within 1s" in err
    rc, out, _ = result(start(reap, tmp_path, "pytest", "--since", "5m", "--timeout", "5s"))
    assert rc == 0 and out.startswith("GREEN")


@pytest.mark.timeout(60)
def test_timeout_is_124(hub, reap, tmp_path):
    rc, _, err = result(start(reap, tmp_path, "sha", "1234567", "--timeout", "1s"))
    assert rc == 124
    assert "TIMEOUT: no verdict for CI for 1234567 within 1s" in err


@pytest.mark.timeout(60)
def test_no_hub_is_exit_2_with_waitbus_own_message(reap, tmp_path):
    rc, out, err = result(start(reap, tmp_path, "pytest", "--timeout", "5s"))
    assert rc == 2 and out == ""
    assert "no hub is listening" in err and "WAITBUS_NO_AUTOSTART" in err
    assert "ERROR: waitbus could not wait" in err


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "wait-for-ci.sh sha 7f3a1b2"),
        (("nope",), "unknown mode 'nope'"),
        (("sha",), "wait-for-ci.sh sha 7f3a1b2"),
        (("pytest", "--bogus"), "unknown option '--bogus'"),
        (("sha", "zzz"), "--sha"),  # waitbus itself rejects a non-hex sha
    ],
)
def test_bad_usage_is_exit_2(hub, reap, tmp_path, args, message):
    rc, _, err = result(start(reap, tmp_path, *args))
    assert rc == 2
    assert message in err

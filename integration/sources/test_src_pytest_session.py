"""waitbus-sources-pytest against real pytest: each test writes a project into tmp_path and
runs `python -m pytest` on it in a subprocess, with the plugin loaded from its entry point
and WAITBUS_STATE_DIR / WAITBUS_RUNTIME_DIR pointing at this test's temp dirs (root
conftest). Then it reads what landed in the event log.

The inner project has its own pytest.ini, so the repository's addopts (which holds
`-p no:waitbus` to keep the outer run off the developer's bus) never reach it, and
PYTEST_ADDOPTS / PYTEST_PLUGINS / PYTEST_DISABLE_PLUGIN_AUTOLOAD are dropped from its
environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._support.pytest_source import (
    FAST,
    inner_env,
    make_project,
    only_session,
    pytest_counts_line,
    run_pytest,
    stored,
)

pytestmark = pytest.mark.timeout(120)


MIXED = """
import time, pytest
def test_one(): time.sleep(0.3)
def test_two(): pass
def test_three(): pass
def test_deselected_by_k(): pass
@pytest.mark.skip(reason="no")
def test_skipped(): pass
@pytest.mark.xfail
def test_xfailed(): assert False
@pytest.mark.xfail
def test_xpassed(): pass
"""

FAILING = """
import pytest
def test_ok(): pass
def test_bad(): assert 1 == 2, "numbers differ"
@pytest.fixture
def breaks_on_teardown():
    yield
    raise RuntimeError("teardown broke")
def test_teardown(breaks_on_teardown): pass
@pytest.mark.xfail(strict=True)
def test_strict_xpass(): pass
"""


# -- outcomes and counts ---------------------------------------------------------------


def test_passing_session(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"test_mixed.py": MIXED})
    t0 = time.monotonic()
    run = run_pytest(proj, "-q", "-k", "not deselected_by_k")
    wall = time.monotonic() - t0
    assert run.returncode == 0, run.stdout + run.stderr
    event = only_session()
    f = event["fields"]
    assert f["outcome"] == "passed" and f["exitstatus"] == 0
    assert {k: f[k] for k in ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "deselected")} == {
        "passed": 3, "failed": 0, "errors": 0, "skipped": 1, "xfailed": 1, "xpassed": 1, "deselected": 1,
    }  # fmt: skip
    assert f["collected"] == 7
    assert 0.3 <= f["duration_s"] < wall
    assert f["rootdir"] == str(proj) and f["inifile"] == str(proj / "pytest.ini")
    assert f["invocation"] == {"args": [*FAST, "-q", "-k", "not deselected_by_k"], "dir": str(proj)}
    assert f["python_version"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert isinstance(f["pid"], int) and f["pid"] != os.getpid() and f["host"]
    assert f["started_at"] <= f["finished_at"] and f["started_at"].endswith("Z")
    assert "reason" not in f and "failure_events" not in f
    assert event["delivery_id"] == f["session_id"]
    # The summary says what pytest's own last line says.
    assert event["summary"] == f"pytest passed: {pytest_counts_line(run.stdout)} in {f['duration_s']:.2f}s ({proj})"
    assert pytest_counts_line(run.stdout) == "3 passed, 1 skipped, 1 deselected, 1 xfailed, 1 xpassed"


def test_failing_session(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"test_failing.py": FAILING})
    run = run_pytest(proj, "-q")
    assert run.returncode == 1, run.stdout + run.stderr
    event = only_session()
    f = event["fields"]
    assert f["outcome"] == "failed" and f["exitstatus"] == 1
    # strict xpass counts as failed, a teardown error as an error (and its test as passed): as pytest does.
    assert (f["passed"], f["failed"], f["errors"], f["collected"]) == (2, 2, 1, 4)
    assert pytest_counts_line(run.stdout) == "2 failed, 2 passed, 1 error"
    assert event["summary"].startswith("pytest failed: 2 failed, 2 passed, 1 error in ")
    assert [e for e in stored() if e["event_type"] == "pytest_failure"] == []  # not asked for


def test_collection_error_is_an_error_not_an_interruption(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"test_fine.py": "def test_a(): pass\n", "test_broken.py": "import no_such_module\n"})
    run = run_pytest(proj, "-q")
    assert run.returncode == 2, run.stdout + run.stderr
    f = only_session()["fields"]
    assert f["outcome"] == "error" and f["exitstatus"] == 2
    assert f["errors"] == 1 and f["passed"] == 0
    assert "1 error during collection" in f["reason"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("raise KeyboardInterrupt", "KeyboardInterrupt"),
        ("pytest.exit('enough of this')", "Exit: enough of this"),
    ],
    ids=["keyboard-interrupt", "pytest-exit"],
)
def test_interrupted_session(tmp_path: Path, body: str, reason: str) -> None:
    code = f"import pytest\ndef test_a(): pass\ndef test_b():\n    {body}\ndef test_c(): pass\n"
    proj = make_project(tmp_path, {"test_stop.py": code})
    run = run_pytest(proj, "-q")
    assert run.returncode == 2, run.stdout + run.stderr
    f = only_session()["fields"]
    assert f["outcome"] == "interrupted" and f["exitstatus"] == 2
    assert (f["passed"], f["failed"], f["collected"]) == (1, 0, 3)
    assert f["reason"] == reason


def test_real_sigint_mid_test(tmp_path: Path) -> None:
    """Ctrl-C from outside: SIGINT while a test sleeps."""
    marker = tmp_path / "started"
    code = (
        "import time, pathlib\ndef test_a(): pass\n"
        f"def test_slow():\n    pathlib.Path({str(marker)!r}).touch()\n    time.sleep(60)\n"
    )
    proj = make_project(tmp_path, {"test_slow.py": code})
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", *FAST, "-q"],
        cwd=proj, env=inner_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None and time.monotonic() < deadline, "the slow test never started"
            time.sleep(0.02)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 2, out + err
    assert "KeyboardInterrupt" in out
    f = only_session()["fields"]
    assert f["outcome"] == "interrupted" and f["passed"] == 1 and f["reason"] == "KeyboardInterrupt"


def test_no_tests(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"helpers.py": "X = 1\n"})
    run = run_pytest(proj, "-q")
    assert run.returncode == 5, run.stdout + run.stderr
    event = only_session()
    assert event["fields"]["outcome"] == "no_tests" and event["fields"]["collected"] == 0
    assert event["summary"].startswith("pytest no_tests: no tests ran in ")


def test_internal_error(tmp_path: Path) -> None:
    conftest = "def pytest_collection_finish(session):\n    raise RuntimeError('a plugin bug')\n"
    proj = make_project(tmp_path, {"conftest.py": conftest, "test_a.py": "def test_a(): pass\n"})
    run = run_pytest(proj, "-q")
    assert run.returncode == 3, run.stdout + run.stderr
    f = only_session()["fields"]
    assert f["outcome"] == "error" and f["exitstatus"] == 3
    assert f["reason"] == "internal error, RuntimeError: a plugin bug"


def test_each_session_is_its_own_event(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"test_a.py": "def test_a(): pass\n"})
    for _ in range(2):
        assert run_pytest(proj, "-q").returncode == 0
    events = stored()
    assert [e["event_type"] for e in events] == ["pytest_session", "pytest_session"]
    assert events[0]["delivery_id"] != events[1]["delivery_id"]


# -- switched off -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("-p", "no:waitbus"), {}),
        ((), {"WAITBUS_PYTEST": "0"}),
        (("--waitbus-failures",), {"WAITBUS_PYTEST": "off"}),  # the option stays valid when off
    ],
    ids=["-p no:waitbus", "WAITBUS_PYTEST=0", "off-with-failures-flag"],
)
def test_switched_off_stores_nothing(tmp_path: Path, args: tuple[str, ...], env: dict[str, str]) -> None:
    proj = make_project(tmp_path, {"test_a.py": "def test_a(): pass\ndef test_b(): assert 0\n"})
    run = run_pytest(proj, "-q", *args, env=inner_env(**env))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "waitbus" not in run.stdout + run.stderr
    assert stored() == []
    assert not (Path(os.environ["WAITBUS_STATE_DIR"]) / "events.db").exists()


def test_nested_sessions_are_quiet_unless_asked(tmp_path: Path) -> None:
    """A pytest run inside another pytest's test (pytester, or a test that spawns pytest,
    as these tests do) sees PYTEST_CURRENT_TEST and publishes nothing, unless
    WAITBUS_PYTEST=1 says to."""
    proj = make_project(tmp_path, {"test_a.py": "def test_a(): pass\n"})
    nested = inner_env(PYTEST_CURRENT_TEST="outer/test_x.py::test_y (call)")
    assert run_pytest(proj, "-q", env=nested).returncode == 0
    assert stored() == []
    assert run_pytest(proj, "-q", env={**nested, "WAITBUS_PYTEST": "1"}).returncode == 0
    assert only_session()["fields"]["outcome"] == "passed"


# -- failure events ------------------------------------------------------------------------


@pytest.mark.parametrize("switch", ["flag", "env"])
def test_failure_events_when_asked(tmp_path: Path, switch: str) -> None:
    big = "def test_huge():\n    raise ValueError('a' * 30000)\n"
    proj = make_project(tmp_path, {"test_failing.py": FAILING, "test_huge.py": big})
    args, env = (
        (("--waitbus-failures",), inner_env()) if switch == "flag" else ((), inner_env(WAITBUS_PYTEST_FAILURES="1"))
    )
    run = run_pytest(proj, "-q", *args, env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    events = stored()
    assert events[-1]["event_type"] == "pytest_session"  # the failures were published first, as they happened
    session = events[-1]["fields"]
    failures = {e["fields"]["nodeid"] + ":" + e["fields"]["when"]: e for e in events[:-1]}
    assert set(failures) == {
        "test_failing.py::test_bad:call",
        "test_failing.py::test_teardown:teardown",
        "test_failing.py::test_strict_xpass:call",
        "test_huge.py::test_huge:call",
    }
    bad = failures["test_failing.py::test_bad:call"]
    assert bad["source"] == "pytest" and bad["event_type"] == "pytest_failure"
    assert bad["fields"]["outcome"] == "failed" and "numbers differ" in bad["fields"]["message"]
    assert "assert 1 == 2" in bad["fields"]["longrepr"]
    assert bad["fields"]["location"] == {"path": "test_failing.py", "line": 3, "domain": "test_bad"}
    assert bad["summary"].startswith("pytest failed: test_failing.py::test_bad (call): ")
    teardown = failures["test_failing.py::test_teardown:teardown"]["fields"]
    assert teardown["outcome"] == "error" and "teardown broke" in teardown["message"]
    huge = failures["test_huge.py::test_huge:call"]["fields"]["longrepr"]
    assert len(huge) <= 4096 and "characters cut" in huge
    assert {e["fields"]["session_id"] for e in events} == {session["session_id"]}
    assert len({e["delivery_id"] for e in events}) == len(events)
    assert (session["failure_events"], session["failure_events_dropped"]) == (4, 0)


def test_collection_error_failure_event(tmp_path: Path) -> None:
    proj = make_project(tmp_path, {"test_broken.py": "import no_such_module\n"})
    run = run_pytest(proj, "-q", "--waitbus-failures")
    assert run.returncode == 2
    failure, session = stored()
    assert failure["fields"]["nodeid"] == "test_broken.py" and failure["fields"]["when"] == "collect"
    assert failure["fields"]["outcome"] == "error" and "no_such_module" in failure["fields"]["message"]
    assert session["fields"]["outcome"] == "error"


def test_failure_events_are_capped_per_session(tmp_path: Path) -> None:
    code = "import pytest\n@pytest.mark.parametrize('i', range(105))\ndef test_many(i): assert False\n"
    proj = make_project(tmp_path, {"test_many.py": code})
    run = run_pytest(proj, "-q", "--waitbus-failures")
    assert run.returncode == 1
    events = stored()
    assert len(events) == 101
    f = events[-1]["fields"]
    assert (f["failed"], f["failure_events"], f["failure_events_dropped"]) == (105, 100, 5)


# -- nothing happens before the session ends ---------------------------------------------------


def test_sdk_untouched_until_the_session_ends(tmp_path: Path) -> None:
    """While the tests run (after import and collection), the SDK, the store and sqlite3
    are not even imported; the session event still lands at the end."""
    probe = tmp_path / "modules.json"
    code = (
        "import json, sys\n"
        "def test_look():\n"
        "    heavy = ('waitbus', 'waitbus_store', 'waitbus_wire', 'msgspec', 'sqlite3', '_sqlite3')\n"
        "    found = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        f"    open({str(probe)!r}, 'w').write(json.dumps(found))\n"
    )
    proj = make_project(tmp_path, {"test_look.py": code})
    run = run_pytest(proj, "-q")
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(probe.read_text()) == []
    assert only_session()["fields"]["outcome"] == "passed"

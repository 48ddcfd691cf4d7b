"""The README example, for real: a hub, a `waitbus wait --source pytest --match
'fields.event_type="pytest_session"' --timeout 1m` subprocess, and a real pytest run in
another process that unblocks it. A run with the plugin switched off does not.

Helpers are shared with test_src_pytest_session.py, loaded from its file.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support import pytest_source as h

README_WAIT = ["wait", "--source", "pytest", "--match", 'fields.event_type="pytest_session"', "--timeout", "1m"]


@pytest.mark.timeout(120)
def test_readme_wait_is_unblocked_by_a_real_pytest_run(
    tmp_path: Path, hub: Any, await_subscribers: Callable[[int], None], reap: Callable[..., Any]
) -> None:
    proj = h.make_project(tmp_path, {"test_suite.py": "def test_ok(): pass\ndef test_bad(): assert 0\n"})
    waiter = reap(
        subprocess.Popen(
            [sys.executable, "-m", "waitbus_cli", *README_WAIT], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
    )
    await_subscribers(1)

    off = h.run_pytest(proj, "-q", "-p", "no:waitbus")
    assert off.returncode == 1
    time.sleep(1.0)  # a hub broadcast arrives in about a millisecond: 1 s is plenty to notice one
    assert waiter.poll() is None, "the wait returned although nothing was published"

    t0 = time.monotonic()
    on = h.run_pytest(proj, "-q")
    assert on.returncode == 1, on.stdout + on.stderr
    out, err = waiter.communicate(timeout=30)
    unblocked_after_run = time.monotonic() - t0
    assert waiter.returncode == 0, err.decode()
    (event,) = h.stored()
    line = out.decode().strip()
    # `wait` prints EVENT_ID SOURCE/EVENT_TYPE SUMMARY
    assert line == f"{event['event_id']} pytest/pytest_session {event['summary']}"
    assert event["summary"].startswith("pytest failed: 1 failed, 1 passed in ")
    assert unblocked_after_run < 30

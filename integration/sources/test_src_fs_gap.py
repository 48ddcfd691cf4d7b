"""A restarted fs watch says what it missed: one fs_gap event with the window it was not
running and the files modified meanwhile (issue 14 item 3)."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support import fs
from waitbus_store import Store, resolve_paths

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def start(tmp_path: Path, reap: Callable[[Any], Any]) -> Callable[..., fs.Runner]:
    def make(*args: str | Path) -> fs.Runner:
        runner = fs.Runner(tmp_path, [str(a) for a in args])
        reap(runner.proc)
        return runner.ready()

    return make


def gaps() -> list[Any]:
    db = resolve_paths().db
    if not db.exists():
        return []
    with Store(db) as store:
        return [r.to_frame() for r in store.read_after(0, limit=10_000) if r.event_type == "fs_gap"]


def test_a_restart_reports_the_window_and_the_files_changed_in_it(
    tmp_path: Path, start: Callable[..., fs.Runner]
) -> None:
    watched = tmp_path / "w"
    (watched / "sub").mkdir(parents=True)
    (watched / "old.txt").write_text("before")
    first = start(watched, "--recursive")
    (watched / "seen.txt").write_text("x")
    fs.wait_events(fs.has("seen.txt"), "a change while running", first)
    assert first.stop() == 0
    assert gaps() == []  # the first run of a watch has nothing to report
    stopped = time.time_ns()
    time.sleep(0.05)
    (watched / "sub" / "missed.py").write_text("changed while nobody watched")
    (watched / "~missed.swp").write_text("editor churn is ignored here too")

    second = start(watched, "--recursive")
    deadline = time.monotonic() + 15
    while not gaps():
        assert time.monotonic() < deadline, second.stderr()
        time.sleep(0.02)
    (gap,) = gaps()
    f = gap.fields
    assert f["clean_stop"] is True and f["roots"] == [str(watched)]
    assert f["down_from_ns"] <= stopped < f["down_until_ns"] and f["down_s"] > 0
    assert f["changed"] == [str(watched / "sub" / "missed.py")] and f["changed_count"] == 1
    assert re.fullmatch(r"fs was not watching for \d+s: 1 paths changed meanwhile", gap.summary)
    assert second.stop() == 0


def test_a_killed_watch_reports_an_unclean_gap_and_other_roots_do_not(
    tmp_path: Path, start: Callable[..., fs.Runner]
) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    first = start(a)
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(15)
    start(b).stop()  # another set of roots: a watch of its own, no gap
    assert gaps() == []
    start(a).stop()
    (gap,) = gaps()
    assert gap.fields["clean_stop"] is False and gap.fields["changed_count"] == 0
    assert os.path.isdir(resolve_paths().state_dir / "fs")

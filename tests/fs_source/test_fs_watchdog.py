"""The watchdog backend alone (other platforms, and --poll): real observers on a tmp dir,
whose threads wake the runner's loop through a pipe it polls."""

from __future__ import annotations

import select
import sys
import time
from pathlib import Path

import pytest

from waitbus_sources_fs._coalesce import Raw
from waitbus_sources_fs._ignore import Root
from waitbus_sources_fs._watchdog import WatchdogWatch

pytestmark = pytest.mark.timeout(60)
if not sys.platform.startswith("linux"):
    pytest.skip("the native observer's kinds below are inotify's", allow_module_level=True)


@pytest.mark.parametrize("poll", [None, 0.05], ids=["native", "polling"])
def test_events_arrive_through_the_pipe_in_order(tmp_path: Path, poll: float | None) -> None:
    watch = WatchdogWatch([Root(str(tmp_path), recursive=False)], poll)
    assert watch.read(time.monotonic()) == []  # nothing yet, and reading does not block
    watch.start()
    try:
        target = tmp_path / "a.txt"
        target.write_text("x")
        seen: list[Raw] = []
        deadline = time.monotonic() + 15
        last = "created" if poll else "closed"  # a snapshot sees a new file; inotify sees it closed too
        while not any(r.src == str(target) and r.kind == last for r in seen):
            assert time.monotonic() < deadline, seen
            readable, _, _ = select.select([watch.fileno()], [], [], 1)  # woken by watchdog's thread
            if readable:
                seen += watch.read(time.monotonic())
        mine = [r.kind for r in seen if r.src == str(target)]
        assert mine[0] == "created"
        assert watch.reports_close == (poll is None)  # on Linux, watchdog's own inotify observer
    finally:
        watch.stop()
        watch.close()

"""The fs source's runner as a real subprocess and the fs_change events it stores:
shared by integration/sources/test_src_fs*.py and the watcher kill -9 fault test."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests._support._cli import WAITBUS

ENTRY = "import sys; from waitbus_sources_fs import SOURCE; sys.exit(SOURCE.runner(sys.argv[1:]))"
WAIT = 15.0  # per wait: generous for a loaded 2-core machine; a pass takes milliseconds


def fs_events() -> list[Any]:
    """Every fs_change event in the log, in commit order, as subscribers see them."""
    from waitbus_store import Store, resolve_paths

    db = resolve_paths().db
    if not db.exists():
        return []
    with Store(db) as store:
        return [r.to_frame() for r in store.read_after(0, limit=100_000) if r.event_type == "fs_change"]


def wait_events(until: Callable[[list[Any]], bool], what: str, runner: Runner | None = None) -> list[Any]:
    deadline = time.monotonic() + WAIT
    while True:
        events = fs_events()
        if until(events):
            return events
        if time.monotonic() > deadline:
            got = [(e.fields["change"], e.fields["rel"]) for e in events]
            log = runner.stderr() if runner else ""
            raise AssertionError(f"timed out waiting for {what}; log has {got}\nrunner stderr:\n{log}")
        time.sleep(0.02)


def has(rel: str, change: str | None = None) -> Callable[[list[Any]], bool]:
    return lambda events: any(e.fields["rel"] == rel and change in (None, e.fields["change"]) for e in events)


class Runner:
    def __init__(self, tmp: Path, args: list[str], *, entry: bool = False) -> None:
        self.out, self.err = tmp / f"runner-{id(self)}.out", tmp / f"runner-{id(self)}.err"
        cmd = [sys.executable, "-c", ENTRY, *args] if entry else [WAITBUS, "source", "fs", *args]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            # Files, not pipes: nobody has to keep reading them for the runner to make progress.
            self.proc = subprocess.Popen(cmd, stdout=out, stderr=err)

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def wait_stderr(self, text: str) -> None:
        deadline = time.monotonic() + WAIT
        while text not in self.stderr():
            if self.proc.poll() is not None:
                raise AssertionError(f"runner exited {self.proc.returncode}:\n{self.stderr()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"runner never said {text!r}:\n{self.stderr()}")
            time.sleep(0.02)

    def ready(self) -> Runner:
        # Printed after observer.start() returns, which adds the inotify watches itself.
        self.wait_stderr("watching")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return self.proc.wait(WAIT)


def settle(runner: Runner, where: Path) -> list[Any]:
    """Write a sentinel, wait for it, stop with SIGTERM (exit 0) and return the other events."""
    (where / "zz-sentinel").write_text("s")
    wait_events(has("zz-sentinel"), "the sentinel", runner)
    assert runner.stop() == 0, runner.stderr()
    return [e for e in fs_events() if e.fields["rel"] != "zz-sentinel"]

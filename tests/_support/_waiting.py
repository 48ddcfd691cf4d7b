"""Waiting on a real process's visible effect (a row, a socket, a log line) without
tight timing: poll until it shows, fail naming what never came."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


def wait_until(
    probe: Callable[[], T | None],
    what: str,
    timeout: float = 30.0,
    every: float = 0.02,
    *,
    alive: subprocess.Popen[Any] | None = None,
) -> T:
    """Poll `probe` until it returns something truthy; fail saying `what` at the deadline,
    or at once if the process `alive` names (the one that should make it true) exits."""
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if alive is not None and alive.poll() is not None:
            raise AssertionError(f"{what}: the process exited {alive.returncode}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)

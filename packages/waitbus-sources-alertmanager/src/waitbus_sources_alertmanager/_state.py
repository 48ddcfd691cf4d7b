"""Files under `<state dir>/watchdog/`: the heartbeat file the /watchdog route touches and
the `fresh` / `stale` flag that `waitbus watchdog-check run` keeps for shell prompts."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from waitbus_store import resolve_paths

HEARTBEAT = "heartbeat"
FRESH = "fresh"
STALE = "stale"


def watchdog_dir() -> Path:
    """`<state dir>/watchdog`, created 0700 if missing."""
    path = resolve_paths().state_dir / "watchdog"
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def touch_heartbeat(fingerprint: str) -> None:
    """Record that an authenticated, firing Watchdog notification arrived just now."""
    path = watchdog_dir() / HEARTBEAT
    _write_atomic(path, f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} {fingerprint}\n")


def heartbeat_ns() -> int | None:
    """When the heartbeat file was last touched (ns since the epoch), or None."""
    try:
        return (watchdog_dir() / HEARTBEAT).stat().st_mtime_ns
    except FileNotFoundError:
        return None


def set_flag(state: str, text: str) -> None:
    """Make `state` (fresh or stale) the one flag file, with `text` in it.

    The old flag is renamed onto the new name first, so once either exists there is
    always exactly one (a prompt never sees both or neither); then the text is
    replaced atomically.
    """
    assert state in (FRESH, STALE)
    d = watchdog_dir()
    other = d / (STALE if state == FRESH else FRESH)
    target = d / state
    try:
        os.rename(other, target)
    except FileNotFoundError:
        pass
    _write_atomic(target, text)
    # A leftover from a crash between two runs: the target exists now, so drop it.
    other.unlink(missing_ok=True)


def current_flag() -> str | None:
    d = watchdog_dir()
    for state in (STALE, FRESH):
        if (d / state).exists():
            return state
    return None


def _write_atomic(path: Path, text: str) -> None:
    # Per process and thread: the listener may serve two notifications at once.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_native_id()}.tmp")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

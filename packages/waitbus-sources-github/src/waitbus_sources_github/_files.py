"""Files in the state dir: JSON state written atomically, a run lock."""

from __future__ import annotations

import fcntl
import json
import os
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

# OWNER/REPO as GitHub spells it (watched_repos.txt, --repo): group 1 the owner, 2 the repo.
REPO_RE = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)$")


def state_dir() -> Path:
    from waitbus_store import resolve_paths

    return resolve_paths().state_dir


def load_state(path: Path, version: int) -> dict[str, Any]:
    """A state file, or {} when it is missing, unreadable or of another version. State
    is a cache of what was already seen: losing it re-emits nothing (delivery ids
    dedup), so a damaged file is reported and started afresh, never fatal."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        print(f"{path}: unreadable state ({exc}); starting afresh", file=sys.stderr)
        return {}
    if not isinstance(data, dict) or data.get("version") != version:
        return {}
    return data


def save_state(path: Path, data: dict[str, Any]) -> None:
    """Write `data` as JSON so a reader sees the old file or the new one, never a torn
    one: a temp file in the same dir, fsync, then os.replace."""
    from waitbus_store import write_json_atomic

    write_json_atomic(path, data)


@contextmanager
def exclusive(path: Path) -> Iterator[bool]:
    """Hold an flock on `path` for the block; yields False (without waiting) if another
    process holds it, so an overlapping timer tick skips instead of racing on state."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)

"""Path resolution for clients, cached per environment (WAITBUS_* and XDG_RUNTIME_DIR
are re-read on every call, so tests and tools may change them)."""

from __future__ import annotations

import os

from waitbus_store import runtime_dir, state_dir

TYPE_CHECKING = False  # producers must not pay for typing or pathlib: see _emit
if TYPE_CHECKING:
    from waitbus_store import Paths

_Key = tuple[str | None, str | None, str | None]
_dirs: dict[_Key, tuple[str, str]] = {}
_paths: dict[_Key, Paths] = {}


def _key() -> _Key:
    env = os.environ
    return env.get("WAITBUS_STATE_DIR"), env.get("WAITBUS_RUNTIME_DIR"), env.get("XDG_RUNTIME_DIR")


def dirs() -> tuple[str, str]:
    """(state dir, runtime dir) as strings: all a producer needs, without pathlib."""
    key = _key()
    found = _dirs.get(key)
    if found is None:
        found = _dirs[key] = (state_dir(), runtime_dir())
    return found


def paths() -> Paths:
    """The Paths for the current WAITBUS_* / XDG environment (cheap to call often)."""
    key = _key()
    found = _paths.get(key)
    if found is None:
        from waitbus_store import resolve_paths

        found = _paths[key] = resolve_paths()
    return found

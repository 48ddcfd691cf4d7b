"""Path resolution for clients: the store's resolver, cached per environment."""

from __future__ import annotations

import os

from waitbus_store import Paths, resolve_paths

_cache: dict[tuple[str | None, str | None, str | None], Paths] = {}


def paths() -> Paths:
    """The Paths for the current WAITBUS_* / XDG environment (cheap to call often)."""
    key = (
        os.environ.get("WAITBUS_STATE_DIR"),
        os.environ.get("WAITBUS_RUNTIME_DIR"),
        os.environ.get("XDG_RUNTIME_DIR"),
    )
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = resolve_paths()
    return found

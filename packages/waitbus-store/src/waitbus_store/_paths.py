"""Where waitbus keeps things. First hit wins: WAITBUS_* env vars, then platform dirs.

Lives beside the store (not in the SDK) because the hub, which must not depend on the
SDK, resolves the same paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from ._dirs import DB_NAME, DOORBELL_NAME, HUB_LOCK_NAME, SOCKET_NAME, PathError, ensure_dirs, runtime_dir, state_dir


class Paths(NamedTuple):
    """The two directories; everything else is named from them."""

    state_dir: Path
    runtime_dir: Path

    @property
    def db(self) -> Path:
        return self.state_dir / DB_NAME

    @property
    def secrets(self) -> Path:
        return self.state_dir / "secrets.json"

    @property
    def hub_log(self) -> Path:
        return self.state_dir / "hub.log"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / SOCKET_NAME

    @property
    def doorbell(self) -> Path:
        return self.runtime_dir / DOORBELL_NAME

    @property
    def hub_lock(self) -> Path:
        return self.runtime_dir / HUB_LOCK_NAME

    @property
    def autostart_lock(self) -> Path:
        return self.runtime_dir / "autostart.lock"

    def ensure(self) -> Paths:
        """Create both dirs 0700 (tightening our own dirs if they are looser)."""
        ensure_dirs(str(self.state_dir), str(self.runtime_dir))
        return self


def resolve_paths() -> Paths:
    """The paths in force now (re-read from the environment on every call)."""
    return Paths(state_dir=Path(state_dir()), runtime_dir=Path(runtime_dir()))


__all__ = ["PathError", "Paths", "resolve_paths"]

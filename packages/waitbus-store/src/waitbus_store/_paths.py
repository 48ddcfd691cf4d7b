"""Where waitbus keeps things. First hit wins: WAITBUS_* env vars, then platform dirs.

Lives beside the store (not in the SDK) because the hub, which must not depend on the
SDK, resolves the same paths.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import NamedTuple

# sun_path is 108 bytes on Linux, 104 on macOS; keep a margin for the NUL.
_MAX_SOCKET_PATH = 103 if sys.platform == "darwin" else 107


class PathError(RuntimeError):
    """A state or runtime directory that cannot be used; the message says why."""


def _default_state_dir() -> Path:
    import platformdirs  # only when no env override: keeps the common path cheap

    return Path(platformdirs.user_state_dir("waitbus", appauthor=False))


def _default_runtime_dir() -> Path:
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if sys.platform != "darwin" and xdg and Path(xdg).is_dir():
        return Path(xdg) / "waitbus"
    import tempfile

    # macOS's user_runtime_dir is an evictable cache; use a per-user temp dir.
    return Path(tempfile.gettempdir()) / f"waitbus-{os.getuid()}"


class Paths(NamedTuple):
    """The two directories; everything else is named from them."""

    state_dir: Path
    runtime_dir: Path

    @property
    def db(self) -> Path:
        return self.state_dir / "events.db"

    @property
    def secrets(self) -> Path:
        return self.state_dir / "secrets.json"

    @property
    def hub_log(self) -> Path:
        return self.state_dir / "hub.log"

    @property
    def socket(self) -> Path:
        return self.runtime_dir / "broadcast.sock"

    @property
    def doorbell(self) -> Path:
        return self.runtime_dir / "doorbell.sock"

    @property
    def hub_lock(self) -> Path:
        return self.runtime_dir / "hub.lock"

    @property
    def autostart_lock(self) -> Path:
        return self.runtime_dir / "autostart.lock"

    def ensure(self) -> Paths:
        """Create both dirs 0700 (tightening our own dirs if they are looser)."""
        for d in (self.state_dir, self.runtime_dir):
            try:
                d.mkdir(parents=True, exist_ok=True, mode=0o700)
                if d.stat().st_uid == os.getuid() and d.stat().st_mode & 0o077:
                    d.chmod(0o700)
            except OSError as exc:
                raise PathError(
                    f"cannot create {d}: {exc.strerror}; set WAITBUS_STATE_DIR/WAITBUS_RUNTIME_DIR"
                ) from None
            if not os.access(d, os.W_OK | os.X_OK):
                raise PathError(f"{d} is not writable by uid {os.getuid()}")
        if len(os.fsencode(self.socket)) > _MAX_SOCKET_PATH:
            raise PathError(f"socket path {self.socket} is too long for AF_UNIX; set a shorter WAITBUS_RUNTIME_DIR")
        return self


def resolve_paths() -> Paths:
    """The paths in force now (re-read from the environment on every call)."""
    state = os.environ.get("WAITBUS_STATE_DIR")
    runtime = os.environ.get("WAITBUS_RUNTIME_DIR")
    return Paths(
        state_dir=Path(state) if state else _default_state_dir(),
        runtime_dir=Path(runtime) if runtime else _default_runtime_dir(),
    )

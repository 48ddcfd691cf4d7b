"""The state and runtime directories as plain strings, for the processes that keep
their imports small: short-lived producers (start-up time) and the hub (resident size).

`waitbus emit` runs in a few tens of milliseconds, so this module imports neither
pathlib nor typing, and answers the common Linux case (XDG_STATE_HOME or an absolute
HOME) without platformdirs, whose import alone costs ~14 ms. Every other case asks
platformdirs; tests/store check both give the same answer.
"""

from __future__ import annotations

import os
import sys

from ._errors import StoreBaseError

APP = "waitbus"
DB_NAME = "events.db"
SOCKET_NAME = "broadcast.sock"
DOORBELL_NAME = "doorbell.sock"
HUB_LOCK_NAME = "hub.lock"

# sun_path is 108 bytes on Linux, 104 on macOS; keep a margin for the NUL.
_MAX_SOCKET_PATH = 103 if sys.platform == "darwin" else 107


class PathError(StoreBaseError):
    """A state or runtime directory that cannot be used; the message says why."""


class UnsafeRuntimeDir(PathError):
    """A runtime dir another user made or can write into: refused, never repaired, since
    whoever could write there may already have planted a socket or a symlink."""


def check_private_dir(path: str) -> None:
    """Refuse `path` unless it is a real directory (not a symlink), owned by this uid,
    with no group or other permission bits. Raises UnsafeRuntimeDir naming the dir,
    its owner and mode, and the fix; OSError (e.g. FileNotFoundError) if it cannot be
    looked at."""
    st = os.lstat(path)
    uid = os.getuid()
    mode = st.st_mode & 0o7777
    kind = st.st_mode & 0o170000
    if kind == 0o120000:
        problem = "is a symlink"
    elif kind != 0o040000:
        problem = "is not a directory"
    elif st.st_uid != uid:
        problem = f"belongs to uid {st.st_uid}, not to you (uid {uid})"
    elif mode & 0o077:
        raise UnsafeRuntimeDir(
            f"refusing runtime dir {path}: mode {mode:04o} lets other users in (owner uid {st.st_uid}); "
            f"run `chmod 700 {path}` if you made it, else remove it and let waitbus create it again, "
            "or set WAITBUS_RUNTIME_DIR to a directory of yours with mode 0700"
        )
    else:
        return
    raise UnsafeRuntimeDir(
        f"refusing runtime dir {path}: it {problem} (owner uid {st.st_uid}, mode {mode:04o}); another user "
        "may have made it to intercept waitbus: remove it (as root if needed) or set WAITBUS_RUNTIME_DIR "
        "to a directory of yours with mode 0700"
    )


class UnsafeStateDir(PathError):
    """A state dir (or a symlink to one) that another user owns: they could read the
    log, or swap it for one of theirs whose events the hub would deliver as ours."""


def _check_state_owner(path: str, target_uid: int) -> None:
    uid = os.getuid()
    link_uid = os.lstat(path).st_uid
    if target_uid != uid or link_uid != uid:
        raise UnsafeStateDir(
            f"refusing state dir {path}: it belongs to uid {target_uid if target_uid != uid else link_uid}, "
            f"not to you (uid {uid}); another user could read or replace the event log: remove it (as root if "
            "needed) or set WAITBUS_STATE_DIR to a directory of yours"
        )


def open_private(path: str, flags: int, mode: int = 0o600) -> int:
    """os.open that never follows a symlink at `path` (O_NOFOLLOW) and closes on exec."""
    return os.open(path, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode)


def state_dir() -> str:
    """WAITBUS_STATE_DIR, else the platform's per-user state dir for waitbus."""
    override = os.environ.get("WAITBUS_STATE_DIR")
    if override:
        return override
    if sys.platform == "linux":
        # The XDG rule platformdirs applies on Linux, for its two common inputs.
        for base in (os.environ.get("XDG_STATE_HOME", ""), os.path.join(os.environ.get("HOME", ""), ".local/state")):
            if os.path.isabs(base):
                return os.path.join(base, APP)
    import platformdirs

    return platformdirs.user_state_dir(APP, appauthor=False)


def runtime_dir() -> str:
    """WAITBUS_RUNTIME_DIR, else $XDG_RUNTIME_DIR/waitbus, else a per-user temp dir."""
    override = os.environ.get("WAITBUS_RUNTIME_DIR")
    if override:
        return override
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if sys.platform != "darwin" and xdg and os.path.isdir(xdg):
        return os.path.join(xdg, APP)
    import tempfile

    # macOS's user_runtime_dir is an evictable cache; use a per-user temp dir.
    return os.path.join(tempfile.gettempdir(), f"{APP}-{os.getuid()}")


def ensure_dirs(state: str, runtime: str | None) -> None:
    """Create the dirs 0700. The state dir is tightened to 0700 if it is ours and looser;
    the runtime dir, where the sockets live, must already be private (check_private_dir)
    or is refused. A producer passes no runtime dir: it needs only the log, and a broken
    runtime dir must not cost it an event the hub can replay later."""
    for d, private in ((state, False), (runtime, True)):
        if d is None:
            continue
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
            if private:
                check_private_dir(d)
            else:
                st = os.stat(d)
                _check_state_owner(d, st.st_uid)
                if st.st_mode & 0o077:
                    os.chmod(d, 0o700)
        except OSError as exc:
            raise PathError(f"cannot create {d}: {exc.strerror}; set WAITBUS_STATE_DIR/WAITBUS_RUNTIME_DIR") from None
        if not os.access(d, os.W_OK | os.X_OK):
            raise PathError(
                f"{d} is not writable by uid {os.getuid()}; fix its permissions or set "
                "WAITBUS_STATE_DIR/WAITBUS_RUNTIME_DIR"
            )
    if runtime is not None:
        sock = os.path.join(runtime, SOCKET_NAME)
        if len(os.fsencode(sock)) > _MAX_SOCKET_PATH:
            raise PathError(f"socket path {sock} is too long for AF_UNIX; set a shorter WAITBUS_RUNTIME_DIR")


class Dirs:
    """The two directories as strings and the hub's files named from them: the
    pathlib-free twin of waitbus_store.Paths for the hub, whose idle memory budget
    (20 MB) pathlib's import (~0.7 MB) would eat into."""

    __slots__ = ("runtime", "state")

    def __init__(self, state: str, runtime: str) -> None:
        self.state, self.runtime = state, runtime

    @property
    def db(self) -> str:
        return os.path.join(self.state, DB_NAME)

    @property
    def socket(self) -> str:
        return os.path.join(self.runtime, SOCKET_NAME)

    @property
    def doorbell(self) -> str:
        return os.path.join(self.runtime, DOORBELL_NAME)

    @property
    def hub_lock(self) -> str:
        return os.path.join(self.runtime, HUB_LOCK_NAME)

    def ensure(self) -> Dirs:
        ensure_dirs(self.state, self.runtime)
        return self


def resolve_dirs() -> Dirs:
    """The directories in force now (re-read from the environment on every call)."""
    return Dirs(state_dir(), runtime_dir())

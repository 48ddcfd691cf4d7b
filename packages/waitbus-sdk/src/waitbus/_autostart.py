"""Connect to the hub, starting one in the background if none runs.

A lock file makes concurrent callers start one hub between them; the hub's own lock
makes a second hub exit anyway. Set WAITBUS_NO_AUTOSTART=1 to never start one.
"""

from __future__ import annotations

import _socket  # not `socket`: its enum set-up is ~1.5 ms of `waitbus wait`'s start-up
import os
import sys
import time

from waitbus_store import Dirs, check_peer, check_private_dir

from ._errors import HubUnavailable
from ._paths import dirs

TYPE_CHECKING = False  # not `from typing import ...`: a waiter with a hub to talk to imports
if TYPE_CHECKING:  # neither typing nor pathlib nor subprocess (see `waitbus wait`'s start-up)
    import subprocess

START_TIMEOUT_S = 10.0
# Hubs this process started: polled on every connect so one that exits is reaped
# (not left a zombie for the life of a long-running client such as an MCP server).
_started: list[subprocess.Popen[bytes]] = []


def autostart_enabled() -> bool:
    return os.environ.get("WAITBUS_NO_AUTOSTART", "") in ("", "0")


def _try_connect(path: str) -> _socket.socket | None:
    """A socket connected to a hub of ours at `path`, None if no hub listens there.
    Raises UnsafeRuntimeDir / ForeignPeer (PathErrors) for a runtime dir or a hub
    another user controls: such a hub could feed us forged events."""
    try:
        check_private_dir(os.path.dirname(path))
    except FileNotFoundError:
        return None  # no runtime dir yet: no hub
    s = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        s.connect(path)
        check_peer(s, path)
    except (FileNotFoundError, ConnectionRefusedError):
        s.close()
        return None
    except OSError as exc:
        s.close()
        raise HubUnavailable(f"cannot connect to the hub at {path}: {exc.strerror}") from None
    except BaseException:
        s.close()
        raise
    return s


def hub_command() -> list[str] | None:
    """How to run a hub from here. Through the CLI when it is installed, so the hub
    gets the user's config (retention, heartbeat); else the bare hub module; else a
    `waitbus` on PATH."""
    import importlib.util
    import shutil

    # --autostarted: nobody would ever stop this hub, so it exits once idle.
    if importlib.util.find_spec("waitbus_cli") is not None:
        return [sys.executable, "-m", "waitbus_cli", "broadcast", "serve", "--autostarted"]
    if importlib.util.find_spec("waitbus_hub") is not None:
        return [sys.executable, "-m", "waitbus_hub", "--autostarted"]
    exe = shutil.which("waitbus")
    return [exe, "broadcast", "serve", "--autostarted"] if exe else None


def connect(*, autostart: bool | None = None) -> _socket.socket:
    """A connected socket to the hub of the current environment's runtime dir, or
    HubUnavailable saying why not."""
    _started[:] = [p for p in _started if p.poll() is None]
    sock_path = Dirs(*dirs()).socket
    sock = _try_connect(sock_path)
    if sock is not None:
        return sock
    if not (autostart_enabled() if autostart is None else autostart):
        raise HubUnavailable(
            f"no hub is listening at {sock_path}; start one with `waitbus broadcast serve` "
            "(autostart is off: WAITBUS_NO_AUTOSTART is set)"
        )
    return _start_hub()


def _start_hub() -> _socket.socket:
    """Start a hub in the background (unless a concurrent caller just did) and connect."""
    import fcntl

    from waitbus_store import open_private

    from ._paths import paths as resolve

    paths = resolve().ensure()
    with open(open_private(str(paths.autostart_lock), os.O_RDWR | os.O_CREAT), "r+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the holder is starting a hub: a short wait
        sock = _try_connect(str(paths.socket))
        if sock is not None:
            return sock
        import subprocess  # only when a hub must be started

        cmd = hub_command()
        if cmd is None:
            raise HubUnavailable(
                "no hub is running and none can be started here: install waitbus-hub "
                "(or the waitbus meta-package) or run `waitbus broadcast serve` somewhere"
            )
        from waitbus_store import LOG_FILE_ENV

        # The hub rotates hub.log by size itself (LOG_FILE_ENV); the file opened here
        # catches only what is said before it gets that far.
        env = {**os.environ, LOG_FILE_ENV: str(paths.hub_log)}
        with open(open_private(str(paths.hub_log), os.O_WRONLY | os.O_CREAT | os.O_APPEND), "ab") as logf:
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env, start_new_session=True, close_fds=True
            )
        _started.append(proc)
        deadline = time.monotonic() + START_TIMEOUT_S
        delay = 0.002
        while time.monotonic() < deadline:
            sock = _try_connect(str(paths.socket))
            if sock is not None:
                return sock
            if proc.poll() not in (None, 0, 3):
                break
            time.sleep(delay)  # start-up only: waiting for the socket file to appear
            delay = min(delay * 2, 0.1)
        raise HubUnavailable(f"started a hub ({' '.join(cmd)}) but it did not come up; see {paths.hub_log}")

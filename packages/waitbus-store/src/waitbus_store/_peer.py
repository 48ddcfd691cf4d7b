"""Who is at the other end of a connected AF_UNIX socket, by the kernel's word.

The hub refuses clients of another uid; clients refuse a hub of another uid, so a
socket planted by someone else can neither read our events nor feed us forged ones.
"""

from __future__ import annotations

import _socket  # not `socket`: its enum set-up is ~1.5 ms of every short client's start-up
import os
import struct

from ._dirs import PathError

_SO_PEERCRED: int | None = getattr(_socket, "SO_PEERCRED", None)  # Linux; macOS has getpeereid


class ForeignPeer(PathError):
    """The process behind a waitbus socket runs as another user."""


def peer_uid(sock: _socket.socket) -> int | None:
    """The peer's uid, or None if the platform cannot say (callers then refuse it)."""
    if _SO_PEERCRED is not None:
        creds = sock.getsockopt(_socket.SOL_SOCKET, _SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return int(uid)
    return _getpeereid(sock.fileno())


def peer_pid(sock: _socket.socket) -> int | None:
    """The peer's process id (for hub_stats), or None where the platform cannot say."""
    if _SO_PEERCRED is None:
        return None
    try:
        creds = sock.getsockopt(_socket.SOL_SOCKET, _SO_PEERCRED, struct.calcsize("3i"))
    except OSError:
        return None
    return int(struct.unpack("3i", creds)[0])


def _getpeereid(fd: int) -> int | None:
    # ctypes costs ~1.7 MB of RSS: load it only on platforms without SO_PEERCRED.
    import ctypes
    import ctypes.util

    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    uid, gid = ctypes.c_uint32(), ctypes.c_uint32()
    if libc.getpeereid(fd, ctypes.byref(uid), ctypes.byref(gid)) != 0:
        return None
    return int(uid.value)


def check_peer(sock: _socket.socket, path: str) -> None:
    """Raise ForeignPeer unless the process behind `sock` (connected to `path`) is ours."""
    uid = peer_uid(sock)
    if uid != os.getuid():
        who = "an unknown user" if uid is None else f"uid {uid}"
        raise ForeignPeer(
            f"refusing the hub at {path}: it runs as {who}, not as you (uid {os.getuid()}); another user may "
            "be impersonating it: remove that socket (as root if needed) or set WAITBUS_RUNTIME_DIR to a "
            "directory of yours with mode 0700"
        )

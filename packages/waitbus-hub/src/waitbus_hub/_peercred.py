"""The kernel-verified UID of a connected AF_UNIX peer."""

from __future__ import annotations

import ctypes
import ctypes.util
import socket
import struct

_SO_PEERCRED: int | None = getattr(socket, "SO_PEERCRED", None)  # Linux; macOS has getpeereid


def peer_uid(sock: socket.socket) -> int | None:
    """The peer's UID, or None if the platform cannot say (then refuse it)."""
    if _SO_PEERCRED is not None:
        creds = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return int(uid)
    return _getpeereid(sock.fileno())


def _getpeereid(fd: int) -> int | None:
    libc_name = ctypes.util.find_library("c")
    if not libc_name:
        return None
    libc = ctypes.CDLL(libc_name, use_errno=True)
    uid, gid = ctypes.c_uint32(), ctypes.c_uint32()
    if libc.getpeereid(fd, ctypes.byref(uid), ctypes.byref(gid)) != 0:
        return None
    return int(uid.value)

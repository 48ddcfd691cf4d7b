"""What the kernel knows about a connected AF_UNIX peer: its UID, and how much room\nits socket has left."""

from __future__ import annotations

import fcntl
import socket
import struct
import termios

_SO_PEERCRED: int | None = getattr(socket, "SO_PEERCRED", None)  # Linux; macOS has getpeereid


def peer_uid(sock: socket.socket) -> int | None:
    """The peer's UID, or None if the platform cannot say (then refuse it)."""
    if _SO_PEERCRED is not None:
        creds = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERCRED, struct.calcsize("3i"))
        _pid, uid, _gid = struct.unpack("3i", creds)
        return int(uid)
    return _getpeereid(sock.fileno())


def peer_pid(sock: socket.socket) -> int | None:
    """The peer's process id (for hub_stats), or None where the platform cannot say."""
    if _SO_PEERCRED is None:
        return None
    try:
        creds = sock.getsockopt(socket.SOL_SOCKET, _SO_PEERCRED, struct.calcsize("3i"))
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


def room_for(sock: socket.socket, nbytes: int) -> bool:
    """True if a send of `nbytes` now will be taken whole. Used before the eviction
    frame: a partial write followed by close would leave the client a torn frame.
    Where the kernel cannot say (no TIOCOUTQ), answer False: a bare EOF is safe."""
    try:
        queued = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
        sndbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
    except (OSError, AttributeError):
        return False
    # The kernel charges per-buffer overhead on top of the payload: keep a margin.
    return bool(sndbuf - queued >= nbytes + 4096)

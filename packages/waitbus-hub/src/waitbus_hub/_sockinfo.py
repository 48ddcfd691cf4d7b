"""How much room a connected AF_UNIX socket has left (its peer's uid: waitbus_store.peer_uid)."""

from __future__ import annotations

import fcntl
import socket
import struct
import termios


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

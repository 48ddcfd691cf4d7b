"""Length-prefixed framing: a 4-byte big-endian length N, then N bytes of JSON.

0 < N <= MAX_FRAME_BYTES. A reader closes the connection on anything else, so the
decoder raises instead of trying to resynchronise: there is no way to find the next
frame boundary in a corrupted stream.
"""

from __future__ import annotations

import struct

from ._errors import WireError

MAX_FRAME_BYTES = 65536
_HEADER = struct.Struct(">I")
HEADER_BYTES = _HEADER.size


class FrameError(WireError):
    """The byte stream broke the framing rules; the connection must be closed."""


def encode_frame(body: bytes) -> bytes:
    """Prefix one JSON body with its length; refuse an empty or oversize body."""
    n = len(body)
    if n == 0 or n > MAX_FRAME_BYTES:
        raise FrameError(f"frame body is {n} bytes; allowed 1..{MAX_FRAME_BYTES}")
    return _HEADER.pack(n) + body


class FrameDecoder:
    """Incremental decoder: feed any chunking of the stream, get whole bodies back."""

    __slots__ = ("_buf", "_max")

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._buf = bytearray()
        self._max = max_frame_bytes

    def feed(self, data: bytes) -> list[bytes]:
        """Append bytes; return every complete frame body now available, in order."""
        buf = self._buf
        buf += data
        out: list[bytes] = []
        pos = 0
        end = len(buf)
        while end - pos >= HEADER_BYTES:
            (n,) = _HEADER.unpack_from(buf, pos)
            if n == 0 or n > self._max:
                # Drop what we hold: the stream is unusable from here on.
                buf.clear()
                raise FrameError(f"frame length {n} outside 1..{self._max}")
            if end - pos - HEADER_BYTES < n:
                break
            start = pos + HEADER_BYTES
            out.append(bytes(buf[start : start + n]))
            pos = start + n
        if pos:
            del buf[:pos]
        return out

    @property
    def pending(self) -> int:
        """Bytes held that do not yet make a whole frame (non-zero at EOF = torn frame)."""
        return len(self._buf)

"""Loopback ports for tests: picked free by the kernel, never assumed."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A loopback TCP port free right now (bound to 0, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

"""Another local user attacking a loopback port: a forked child of uid `nobody`
(needs root). Shared by the hub metrics-port and listener limit tests."""

from __future__ import annotations

import os
import socket

NOBODY = 65534


def hold_connections_as_nobody(port: int, count: int) -> tuple[int, int]:
    """A forked child of uid nobody opening `count` idle connections to the port; it
    writes one byte once they are all started and holds them until its pipe closes.
    Returns (pid, the write end of the pipe)."""
    ready_r, ready_w = os.pipe()
    hold_r, hold_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(ready_r)
            os.close(hold_w)
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            held = []
            for _ in range(count):
                s = socket.socket()
                s.setblocking(False)  # the backlog may be full: do not wait for each
                s.connect_ex(("127.0.0.1", port))
                held.append(s)
            os.write(ready_w, b"1")
            os.read(hold_r, 1)  # until the test closes its end
        finally:
            os._exit(0)
    os.close(ready_w)
    os.close(hold_r)
    assert os.read(ready_r, 1) == b"1"
    os.close(ready_r)
    return pid, hold_w

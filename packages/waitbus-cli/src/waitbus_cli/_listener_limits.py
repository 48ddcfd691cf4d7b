"""What unauthenticated senders may cost the listener (docs/listener.md, "Limits").

Bounds the per-read socket timeout cannot give: a deadline on each whole request
(headers and body), so a sender that dribbles a byte at a time is cut off; one budget
of body bytes in flight across all connections for the bodies the listener must read
before anyone can tell whether they are signed; and, when every connection slot is
taken, the one idle the longest gives way to a new sender.
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
from io import BufferedIOBase

REQUEST_TIMEOUT_S = 30.0  # default whole-request deadline (listener.request_timeout)
BODY_BUDGET = 32 * 1024 * 1024  # body bytes read at once, over all connections, before auth
RETRY_AFTER_S = 1  # what a sender refused by the budget is told to wait
HEADER_BYTES = 64 * 1024  # all header lines of one request (the stdlib allows 100 x 64 KiB)
IDLE_EVICT_S = 1.0  # a connection idle this long may be closed for a new one when all slots are taken
EVICT_WAIT_S = 1.0  # how long the new one waits for the slot the idle one gives up


class HeaderBudget:
    """The request's stream as the header parser sees it: past HEADER_BYTES in all, the
    next line raises LineTooLong, which the stdlib answers with 431."""

    def __init__(self, raw: BufferedIOBase, limit: int = HEADER_BYTES) -> None:
        self.raw, self.left = raw, limit

    def readline(self, size: int = -1) -> bytes:
        line = self.raw.readline(size)
        self.left -= len(line)
        if self.left < 0:
            raise http.client.LineTooLong(f"header section over {HEADER_BYTES} bytes")
        return line


class BodyBudget:
    """Bytes reserved by the bodies being read; a body is read only once its declared
    length is reserved, so memory follows the budget, not the number of senders."""

    def __init__(self, limit: int = BODY_BUDGET) -> None:
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()

    def take(self, n: int) -> bool:
        with self._lock:
            if self._used + n > self.limit:
                return False
            self._used += n
            return True

    def give(self, n: int) -> None:
        with self._lock:
            self._used -= n


class Deadlines:
    """One thread that shuts the read side of a connection whose request is not in by
    its deadline: the handler's blocked read then returns short, and it answers 408."""

    def __init__(self) -> None:
        self._due: dict[socket.socket, float] = {}
        self._expired: set[socket.socket] = set()
        self._wake = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="listener-deadlines", daemon=True)
        self._thread.start()

    def arm(self, sock: socket.socket, seconds: float) -> None:
        with self._wake:
            self._expired.discard(sock)
            self._due[sock] = time.monotonic() + seconds
            self._wake.notify()

    def disarm(self, sock: socket.socket) -> None:
        with self._wake:
            self._due.pop(sock, None)

    def expired(self, sock: socket.socket) -> bool:
        with self._wake:
            return sock in self._expired

    def forget(self, sock: socket.socket) -> None:
        with self._wake:
            self._due.pop(sock, None)
            self._expired.discard(sock)

    def stop(self) -> None:
        with self._wake:
            self._stopped = True
            self._wake.notify()

    def _run(self) -> None:
        with self._wake:
            while not self._stopped:
                now = time.monotonic()
                for sock in [s for s, due in self._due.items() if due <= now]:
                    del self._due[sock]
                    self._expired.add(sock)
                    try:
                        sock.shutdown(socket.SHUT_RD)
                    except OSError:
                        pass  # already closed by the client or the handler
                nearest = min(self._due.values(), default=None)
                self._wake.wait(None if nearest is None else max(nearest - now, 0.01))


class IdleConnections:
    """Connections waiting for a request's first byte (new, or between keep-alive
    requests), oldest first. With every slot taken, a connection that only holds a slot
    open must not keep out a sender with a request to make: the oldest idle one is
    closed for it, if it has waited at least IDLE_EVICT_S (a sender just accepted is
    given the moment its first bytes take)."""

    def __init__(self) -> None:
        self._since: dict[socket.socket, float] = {}  # insertion order: oldest first
        self._lock = threading.Lock()

    def waiting(self, sock: socket.socket) -> None:
        with self._lock:
            self._since.pop(sock, None)
            self._since[sock] = time.monotonic()

    def active(self, sock: socket.socket) -> None:
        with self._lock:
            self._since.pop(sock, None)

    def evict_oldest(self) -> bool:
        """Shut the oldest idle connection (its handler then ends and frees its slot);
        False if none has been idle long enough."""
        with self._lock:
            oldest = next(iter(self._since.items()), None)
            if oldest is None or time.monotonic() - oldest[1] < IDLE_EVICT_S:
                return False
            del self._since[oldest[0]]
        try:
            oldest[0].shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already gone
        return True

"""When the hub holds back or stops on its own: out of file descriptors it pauses
accepting; a hub a client started exits once idle; any hub exits once its event log
is gone. The loop in _server asks; this module decides and says so in the log."""

from __future__ import annotations

import errno
import logging
import os
import time

log = logging.getLogger("waitbus_hub")

# Out of file descriptors the listening socket stays readable and a retry fails at
# once (the old loop spun a core and logged at ~5 MB/s): accepting pauses this long
# instead, clients wait in the backlog, and it is logged at most once per LOG_EVERY.
ACCEPT_PAUSE_SEC = 0.25
ACCEPT_LOG_EVERY_SEC = 30.0
OUT_OF_FDS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


class AcceptPause:
    """Accepting is paused until `resume_at` (None: accepting)."""

    __slots__ = ("_logged_at", "_said", "failures", "resume_at")

    def __init__(self) -> None:
        self.resume_at: float | None = None
        self.failures = 0
        self._logged_at = -ACCEPT_LOG_EVERY_SEC
        self._said = False  # the pause was logged and its end not yet

    def pause(self, exc: OSError, connected: int) -> None:
        now = time.monotonic()
        self.resume_at = now + ACCEPT_PAUSE_SEC
        self.failures += 1
        if now - self._logged_at >= ACCEPT_LOG_EVERY_SEC:
            log.warning(
                "cannot accept new clients (%s; %d connected, %d failed attempts): retrying every %g s",
                exc.strerror or exc,
                connected,
                self.failures,
                ACCEPT_PAUSE_SEC,
            )
            self._logged_at = now
            self._said = True

    def resumed(self) -> None:
        """Accepting works again. Said only after a pause that was said, so a hub that
        hovers at its limit logs at most twice per ACCEPT_LOG_EVERY_SEC."""
        if self._said:
            log.warning("accepting new clients again after %d failed attempts", self.failures)
            self._said = False
            self.failures = 0


class Lifetime:
    """Idle exit (0: never) and the identity of the log file being served."""

    __slots__ = ("_db", "_idle_since", "_log_id", "idle_exit_sec")

    def __init__(self, db: str, idle_exit_sec: float) -> None:
        self._db = db
        self.idle_exit_sec = idle_exit_sec
        self._idle_since: float | None = time.monotonic()  # None while a client is connected
        self._log_id: tuple[int, int] | None = None

    def log_opened(self) -> None:
        self._log_id = _file_id(self._db)

    def clients(self, n: int) -> None:
        """The number of connected clients changed to n."""
        if n == 0:
            if self._idle_since is None:
                self._idle_since = time.monotonic()
        else:
            self._idle_since = None

    def idle_deadline(self) -> float:
        if self.idle_exit_sec <= 0 or self._idle_since is None:
            return float("inf")
        return self._idle_since + self.idle_exit_sec

    def log_gone(self) -> bool:
        """The event log was deleted or replaced (its state dir removed): new events
        go to another file now, and a hub left serving this one would hold the
        runtime dir, and every new waiter, for ever."""
        if self._log_id is None or _file_id(self._db) == self._log_id:
            return False
        log.error("the event log %s is gone or was replaced (state dir deleted?): stopping", self._db)
        return True

    def say_idle(self) -> None:
        log.info("no client for %g s: exiting (a client starts a hub again when it needs one)", self.idle_exit_sec)


def _file_id(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino

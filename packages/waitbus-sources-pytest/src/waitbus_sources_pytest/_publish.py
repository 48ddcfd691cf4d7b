"""Publishing off the test run's thread, with a deadline.

emit() needs no hub (it commits to the log, then rings a doorbell nobody may hear),
but the log may be unwritable, foreign, corrupt or held locked by another writer,
and SQLite's busy wait alone could take 10 s. So events go through one daemon
thread: failure events while the tests run, the session event at the end; the
session end waits for the thread at most `timeout` seconds and then moves on (a
daemon thread left waiting on a lock dies with the process; SQLite rolls back the
unfinished transaction). The first error stops publishing; it is reported once by
the caller, never raised, and never reaches threading.excepthook (which pytest turns
into a warning, and `-W error` into a failure).
"""

from __future__ import annotations

import queue
import threading
from typing import Any, NamedTuple

from ._fields import SOURCE_NAME


class _Event(NamedTuple):
    event_type: str
    fields: dict[str, Any]
    summary: str
    delivery_id: str


_STOP = None


class Publisher:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Event | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._done = threading.Event()
        self.error: str | None = None
        self.published = 0

    def submit(self, event_type: str, fields: dict[str, Any], summary: str, delivery_id: str) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="waitbus-pytest-publish", daemon=True)
            self._thread.start()
        self._queue.put(_Event(event_type, fields, summary, delivery_id))

    def finish(self, timeout: float) -> str | None:
        """Wait (at most `timeout` s) for everything submitted; the first problem, or None."""
        if self._thread is None:
            return self.error
        self._queue.put(_STOP)
        if not self._done.wait(timeout):
            return self.error or f"the event log did not answer within {timeout:g}s (a writer holds it locked?)"
        return self.error

    def _run(self) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is _STOP:
                    return
                if self.error is None:
                    self._emit(item)
        finally:
            self._done.set()

    def _emit(self, event: _Event) -> None:
        try:
            from waitbus import emit

            emit(
                SOURCE_NAME,
                event.event_type,
                fields=event.fields,
                summary=event.summary,
                delivery_id=event.delivery_id,
            )
            self.published += 1
        except BaseException as exc:  # anything at all: the test run must not notice
            self.error = f"{type(exc).__name__}: {exc}"

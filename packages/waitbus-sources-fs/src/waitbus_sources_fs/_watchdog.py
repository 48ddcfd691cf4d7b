"""Everywhere but Linux's inotify, and for --poll: a watchdog observer.

Watchdog's threads put each raw event on a queue and a byte in a pipe; the runner polls
the pipe's read end beside everything else, and reads the queue in its own thread.
"""

from __future__ import annotations

import os
import queue
import time

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from ._coalesce import Raw
from ._ignore import Root


class _Handler(FileSystemEventHandler):
    def __init__(self, q: queue.SimpleQueue[Raw], wake: int) -> None:
        self.q = q
        self.wake = wake

    def dispatch(self, event: FileSystemEvent) -> None:
        if getattr(event, "is_synthetic", False):
            # Per-file events watchdog makes up for a directory moved as a whole: the
            # directory's own event reports the move.
            return
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        self.q.put(Raw(event.event_type, src, dest, bool(event.is_directory), time.monotonic()))
        try:
            os.write(self.wake, b"\0")
        except BlockingIOError:  # the pipe is full of wake-ups already: the reader is awake
            pass


class WatchdogWatch:
    """The same face as InotifyWatch: `start()`, then `read()` whenever `fileno()` is readable."""

    def __init__(self, roots: list[Root], poll: float | None) -> None:
        if poll is not None:
            from watchdog.observers.polling import PollingObserver

            self.observer: BaseObserver = PollingObserver(timeout=max(poll, 0.05))
        else:
            self.observer = Observer()
        # inotify reports close-after-write; elsewhere a write is "modified" plus quiet time.
        self.reports_close = type(self.observer).__module__.endswith(".inotify")
        self._q: queue.SimpleQueue[Raw] = queue.SimpleQueue()
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        os.set_blocking(self._w, False)
        sink = _Handler(self._q, self._w)
        for key in dict.fromkeys((r.dir, r.recursive) for r in roots):  # file PATHs in one directory share it
            self.observer.schedule(sink, key[0], recursive=key[1])

    def fileno(self) -> int:
        return self._r

    def start(self) -> None:
        """Adds the watches before returning: changes from now on are seen."""
        try:
            self.observer.start()
        except OSError:
            self.observer.stop()  # emitters that did start must not outlive the runner in-process
            raise

    def stop(self) -> None:
        self.observer.stop()
        self.observer.join(timeout=10)

    def close(self) -> None:
        os.close(self._r)
        os.close(self._w)

    def next_due(self) -> float | None:
        return None

    def read(self, now: float, *, final: bool = False) -> list[Raw]:
        try:
            os.read(self._r, 65536)
        except BlockingIOError:
            pass
        out: list[Raw] = []
        while True:
            try:
                out.append(self._q.get_nowait())
            except queue.Empty:
                return out

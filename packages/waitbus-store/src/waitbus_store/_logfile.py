"""A daemon's log file, bounded by size.

A process started in the background (an autostarted hub, a launchd agent) has its
stdout and stderr opened on a file by whoever starts it, and nothing rotates that
file: a hub that failed the same way in a loop once wrote megabytes a second into
one. `WAITBUS_LOG_FILE=<path>` names that file; `bound_log_from_env()` then points
fds 1 and 2 at it and rotates it (`<path>.1`, `<path>.2`) whenever a write takes it
past LOG_MAX_BYTES, so at most (1 + LOG_BACKUPS) x LOG_MAX_BYTES, plus one write,
ever sits on disk. Python's own writes (logging, print, tracebacks) are checked as
they happen; bytes written straight to the fds are counted at the next check.
"""

from __future__ import annotations

import io
import os
import sys
import threading

from ._dirs import open_private

LOG_FILE_ENV = "WAITBUS_LOG_FILE"
LOG_MAX_BYTES = 1024 * 1024
LOG_BACKUPS = 2


class _Bound:
    def __init__(self, path: str, max_bytes: int, backups: int) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self.lock = threading.RLock()

    def check(self) -> None:
        with self.lock:
            try:
                size = os.fstat(2).st_size
            except OSError:
                return
            if size >= self.max_bytes:
                self.rotate()

    def rotate(self) -> None:
        """Move the file aside and point fds 1 and 2 at a fresh one. The new file is
        opened first: with no fd to spare (the hub under EMFILE) the file is cut to
        zero in place instead, so the bound holds even then."""
        tmp = f"{self.path}.new"
        try:
            fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND)
        except OSError:
            for target in (1, 2):
                try:
                    os.ftruncate(target, 0)
                except OSError:
                    pass
            return
        try:
            for n in range(self.backups - 1, 0, -1):
                _replace(f"{self.path}.{n}", f"{self.path}.{n + 1}")
            if self.backups:
                _replace(self.path, f"{self.path}.1")
            os.replace(tmp, self.path)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
        finally:
            os.close(fd)


class _Stream(io.TextIOWrapper):
    """sys.stdout / sys.stderr: each write reaches the fd at once, then the size is
    checked, so the file is rotated between lines, never inside one."""

    bound: _Bound

    def write(self, s: str) -> int:
        n = super().write(s)
        self.flush()
        self.bound.check()
        return n


def _replace(src: str, dst: str) -> None:
    try:
        os.replace(src, dst)
    except FileNotFoundError:
        pass


def bound_log(path: str, *, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS) -> None:
    """Send this process's stdout and stderr to `path` (appending), rotated by size.
    Call it first thing in `main`, before logging is configured: a handler keeps the
    sys.stderr it finds."""
    # O_NOFOLLOW: a symlink planted where the log goes must not make us append to
    # (or, on rotation, truncate) a file it points at.
    fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        os.dup2(fd, 1)
        os.dup2(fd, 2)
    finally:
        os.close(fd)
    bound = _Bound(path, max_bytes, backups)
    for name, target in (("stdout", 1), ("stderr", 2)):
        raw = io.FileIO(target, "w", closefd=False)
        stream = _Stream(io.BufferedWriter(raw), encoding="utf-8", errors="backslashreplace", line_buffering=True)
        stream.bound = bound
        setattr(sys, name, stream)
    bound.check()  # a file left large by an earlier run starts fresh


def bound_log_from_env() -> None:
    """bound_log($WAITBUS_LOG_FILE) when the variable is set (by whoever started this
    process in the background); otherwise stdout and stderr stay as they are."""
    path = os.environ.get(LOG_FILE_ENV)
    if path:
        try:
            bound_log(path)
        except OSError as exc:
            print(f"waitbus: cannot write the log file {path}: {exc.strerror}", file=sys.stderr)

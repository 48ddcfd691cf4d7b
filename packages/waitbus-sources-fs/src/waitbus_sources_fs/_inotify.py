"""Linux: the watched directories on one inotify descriptor, read in the runner's own thread.

watchdog's inotify observer hands each event through four threads and batches its reads
for a millisecond; the runner polls this descriptor itself instead, so a close-after-write
reaches the log a few hundred microseconds after it happens. One watch per directory,
recursively where asked (directories created or moved in later included). A rename is
paired by its cookie: the kernel queues IN_MOVED_FROM and IN_MOVED_TO back to back, so
one whose partner has not come within MOVE_WAIT_S left the watched tree; events after it
wait for that answer, so their order is kept. The kernel drops events past its queue's
16,384 (by default), faster than Python parses them in a burst, so each `read()` first
takes every queued byte off the kernel and then parses one chunk of them.
"""

from __future__ import annotations

import errno
import os
from collections import deque
from collections.abc import Callable
from typing import Any

from inotify_simple import INotify, flags, parse_events  # type: ignore[import-untyped]

from ._coalesce import Raw
from ._ignore import Root

MOVE_WAIT_S = 0.1
_CHUNK = 65536  # bytes per read: up to ~2,000 events, parsed in a few milliseconds

_MODIFY = int(flags.MODIFY)
_CLOSE_WRITE = int(flags.CLOSE_WRITE)
_CLOSE_NOWRITE = int(flags.CLOSE_NOWRITE)
_OPEN = int(flags.OPEN)
_MOVED_FROM = int(flags.MOVED_FROM)
_MOVED_TO = int(flags.MOVED_TO)
_CREATE = int(flags.CREATE)
_DELETE = int(flags.DELETE)
_DELETE_SELF = int(flags.DELETE_SELF)
_Q_OVERFLOW = int(flags.Q_OVERFLOW)
_IGNORED = int(flags.IGNORED)
_ISDIR = int(flags.ISDIR)
_WATCH = (
    _MODIFY | _CLOSE_WRITE | _CLOSE_NOWRITE | _OPEN | _MOVED_FROM | _MOVED_TO | _CREATE | _DELETE | _DELETE_SELF
) | int(flags.ONLYDIR)
_SUBDIR = _WATCH | int(flags.DONT_FOLLOW)  # a watched PATH may be a symlink; links below it are not followed
_FILE_KINDS = ((_OPEN, "opened"), (_CLOSE_WRITE, "closed"), (_CLOSE_NOWRITE, "closed_no_write"))


def _pairs(moved_from: Any, ev: Any) -> bool:
    return bool(ev.mask & _MOVED_TO) and ev.cookie == moved_from.cookie


class InotifyWatch:
    """`start()` adds the watches (OSError for a PATH that cannot be watched); then, each
    time `fileno()` is readable or `next_due()` has come, `read()` returns the raw events."""

    reports_close = True

    def __init__(
        self, roots: list[Root], warn: Callable[[str], None], hidden: Callable[[str], bool] = lambda _: False
    ) -> None:
        self._tops = sorted({r.dir for r in roots})
        self._hidden = hidden  # directories whose whole tree is ignored: never watched
        self._trees = sorted({r.dir for r in roots if r.recursive})
        self._warn = warn
        self._dirs: dict[int, str] = {}  # watch descriptor -> the directory's path now
        self._chunks: deque[tuple[bytes, float]] = deque()  # read from the kernel, not parsed yet
        self._backlog: list[tuple[Any, float]] = []  # (inotify_simple.Event, seen), not translated yet
        self._full_warned = False
        self._ino = INotify(nonblocking=True)

    def fileno(self) -> int:
        return int(self._ino.fileno())

    def start(self) -> None:
        for top in self._tops:
            self._dirs[self._ino.add_watch(top, _WATCH)] = top
            if self._recursive(top):
                self._watch_tree(top)

    def stop(self) -> None:
        """Nothing to stop: the caller reads what is left, then closes."""

    def close(self) -> None:
        self._ino.close()

    def next_due(self) -> float | None:
        """When to read again without a wake-up (None: not until one): at once while chunks
        wait to be parsed, else when a rename's first half stops waiting for its second."""
        if self._chunks:
            return 0.0
        return self._backlog[0][1] + MOVE_WAIT_S if self._backlog else None

    def _take(self, now: float) -> None:
        while True:
            try:
                data = os.read(self.fileno(), _CHUNK)
            except BlockingIOError:
                return
            self._chunks.append((data, now))

    def read(self, now: float, *, final: bool = False) -> list[Raw]:
        """What has arrived, translated in order; `final` settles a waiting rename at once."""
        self._take(now)
        backlog = self._backlog
        for _ in range(len(self._chunks) if final else min(1, len(self._chunks))):
            data, seen = self._chunks.popleft()
            backlog.extend((ev, seen) for ev in parse_events(data))
        out: list[Raw] = []
        done = 0
        while done < len(backlog):
            ev, seen = backlog[done]
            done += 1
            if not ev.mask & _MOVED_FROM:
                self._translate(ev, seen, out)
                continue
            to = next((j for j in range(done, len(backlog)) if _pairs(ev, backlog[j][0])), 0)
            if not to and (self._chunks or (not final and now < seen + MOVE_WAIT_S)):
                done -= 1
                break  # its IN_MOVED_TO may be a moment behind: it, and all after it, wait
            self._moved(ev, backlog.pop(to)[0] if to else None, seen, out)
        del backlog[:done]
        return out

    def _translate(self, ev: Any, seen: float, out: list[Raw]) -> None:
        mask: int = ev.mask
        if mask & _Q_OVERFLOW:
            self._warn("the kernel's inotify queue overflowed: changes may have been missed")
            for top in self._tops:  # directories made meanwhile were never watched
                if self._recursive(top):
                    self._watch_tree(top)
            return
        if mask & _IGNORED:  # the watch is gone (its directory deleted, or unwatched here)
            self._dirs.pop(ev.wd, None)
            return
        base = self._dirs.get(ev.wd)
        if base is None:
            return
        path = os.path.join(base, ev.name) if ev.name else base
        is_dir = bool(mask & _ISDIR)
        if mask & _CREATE:
            out.append(Raw("created", path, "", is_dir, seen))
            if is_dir and self._recursive(path):
                # What was made in it before its watch (`mkdir -p a/b && touch a/b/f`) is new too.
                self._watch_tree(path, itself=True, made=(out, seen))
        elif mask & _MOVED_TO:  # alone: moved in from outside, a half-move the coalescer calls created
            out.append(Raw("moved", "", path, is_dir, seen))
            if is_dir and self._recursive(path):
                self._watch_tree(path, itself=True)  # one event for the directory, none for its content
        elif mask & _DELETE:
            out.append(Raw("deleted", path, "", is_dir, seen))
        elif mask & _MODIFY:
            out.append(Raw("modified", path, "", is_dir, seen))
        elif mask & _DELETE_SELF:
            if not ev.name and path in self._tops:  # a watched PATH itself; subdirectories are their parents' entries
                out.append(Raw("deleted", path, "", True, seen))
        elif not is_dir:
            for bit, kind in _FILE_KINDS:
                if mask & bit:
                    out.append(Raw(kind, path, "", False, seen))

    def _moved(self, ev: Any, partner: Any, seen: float, out: list[Raw]) -> None:
        base = self._dirs.get(ev.wd)
        dest_base = None if partner is None else self._dirs.get(partner.wd)
        if base is None:
            if dest_base is not None:
                self._translate(partner, seen, out)
            return
        src = os.path.join(base, ev.name)
        dest = "" if dest_base is None else os.path.join(dest_base, partner.name)
        is_dir = bool(ev.mask & _ISDIR)
        out.append(Raw("moved", src, dest, is_dir, seen))  # dest "": moved out, a deletion
        if not is_dir:
            return
        subtree = [wd for wd, p in self._dirs.items() if p == src or p.startswith(src + os.sep)]
        if dest and self._recursive(dest):
            for wd in subtree:  # the kernel keeps the watches; only their paths change
                self._dirs[wd] = dest + self._dirs[wd][len(src) :]
            self._watch_tree(dest, itself=True)  # a no-op for what was watched already
            return
        for wd in subtree:
            self._dirs.pop(wd, None)
            try:
                self._ino.rm_watch(wd)
            except OSError:  # already gone
                pass

    def _recursive(self, path: str) -> bool:
        return any(path == t or path.startswith(t.rstrip(os.sep) + os.sep) for t in self._trees)

    def _watch_tree(self, top: str, *, itself: bool = False, made: tuple[list[Raw], float] | None = None) -> None:
        """Watch every directory under `top`, and `top` too when it is new (made or moved in),
        except where the ignore globs hide a whole tree (`node_modules`, `.git`). Each is
        watched before it is listed, so nothing made in it is missed; with `made`, what the
        listing finds is reported created (as watchdog does)."""
        if itself:
            if self._hidden(top):
                return
            self._watch(top)
        for parent, dirs, files in os.walk(top):  # symlinks to directories are not followed
            dirs[:] = [name for name in dirs if not self._hidden(os.path.join(parent, name))]
            for name in dirs:
                self._watch(os.path.join(parent, name))
            if made is not None:
                out, seen = made
                out.extend(Raw("created", os.path.join(parent, n), "", True, seen) for n in dirs)
                out.extend(Raw("created", os.path.join(parent, n), "", False, seen) for n in files)

    def _watch(self, path: str) -> None:
        try:
            self._dirs[self._ino.add_watch(path, _SUBDIR)] = path
        except OSError as exc:  # gone or replaced already (ENOENT, ENOTDIR), or not ours to read
            if exc.errno == errno.ENOSPC and not self._full_warned:
                self._full_warned = True
                self._warn(f"cannot watch {path} or more directories: raise fs.inotify.max_user_watches ({exc})")

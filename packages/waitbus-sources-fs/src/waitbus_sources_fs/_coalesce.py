"""Turn a stream of raw file events into one change per path once the path is quiet.

Pure logic, no threads and no OS calls: `feed()` raw events with the time they
were seen, ask `ready(now)` for the changes whose path has been quiet for the debounce
window, and `flush()` everything at shutdown.

Per path, the pending change folds each new raw event in (created then deleted within
the window is nothing at all; deleted then created is a replacement, "modified"), so an
editor's save sequence becomes one change. A rename whose source is an ignored name or a
file created within the window is an atomic save: the target is reported "modified" and
the temp file never at all. Where the platform reports close-after-write (inotify), a
file being written is held until its writer closes it, or until it has been quiet for
`hold` seconds (a log file held open forever still gets reported). There, a file just
created also waits up to `FRESH_S` for the open that made it: the kernel queues the create
and the open within one open() call, and a fast reader may see the first alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

FRESH_S = 0.05

# (pending change, new raw change) -> pending change; None means nothing happened net.
_FOLD: dict[tuple[str, str], str | None] = {
    ("created", "created"): "created",
    ("created", "modified"): "created",
    ("created", "deleted"): None,
    ("modified", "created"): "modified",
    ("modified", "modified"): "modified",
    ("modified", "deleted"): "deleted",
    ("deleted", "created"): "modified",  # replaced: vim's rename-away-and-rewrite
    ("deleted", "modified"): "modified",
    ("deleted", "deleted"): "deleted",
    ("moved", "created"): "moved",
    ("moved", "modified"): "moved",
    ("moved", "deleted"): "deleted",
}


@dataclass
class _Pending:
    change: str
    is_dir: bool
    last: float  # when the path last changed (monotonic seconds)
    writing: bool = False  # a writer may still hold it open (only where closes are reported)
    src: str | None = None  # for "moved": where it came from
    fresh: bool = False  # just created, its opening not seen yet (only where closes are reported)


class Raw(NamedTuple):
    """One event as a backend saw it: kind is watchdog's event_type (created, modified,
    deleted, moved, opened, closed, closed_no_write); dest only for moves; seen in
    monotonic seconds."""

    kind: str
    src: str
    dest: str
    is_dir: bool
    seen: float


@dataclass(frozen=True)
class Change:
    """One settled change, ready to become an fs_change event."""

    path: str
    change: str  # created | modified | deleted | moved
    is_dir: bool
    src: str | None = None


class Coalescer:
    def __init__(
        self,
        debounce: float,
        *,
        ignored: Callable[[str], bool],
        reports_close: bool,
        hold: float | None = None,
    ) -> None:
        self.debounce = debounce
        self.hold = max(2.0, 5 * debounce) if hold is None else hold
        self.reports_close = reports_close
        self._ignored = ignored
        self._pending: dict[str, _Pending] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def feed(self, kind: str, path: str, *, now: float, is_dir: bool = False, dest: str = "") -> None:
        """One raw event: kind is watchdog's event_type (created, modified, deleted, moved,
        opened, closed, closed_no_write; others are ignored)."""
        if kind == "moved":
            self._moved(path, dest, is_dir, now)
            return
        if self._ignored(path):
            return
        entry = self._pending.get(path)
        if kind in {"created", "deleted"} or (kind == "modified" and not is_dir):
            # A directory's own "modified" only says its entries changed: those are reported.
            entry = self._fold(path, kind, is_dir, now)
            if entry is not None and self.reports_close:
                entry.writing = entry.writing or kind == "modified"
                entry.fresh = kind == "created" and not is_dir
        elif kind == "opened":
            if entry is not None:  # a file just created is opened to be written
                entry.writing, entry.fresh = self.reports_close, False
        elif kind == "closed":
            # Close-after-write: the write is complete. Alone (a bare `touch`) it still counts.
            entry = entry or self._fold(path, "modified", False, now)
            if entry is not None:
                entry.writing = entry.fresh = False
                entry.last = now
        elif kind == "closed_no_write" and entry is not None:
            entry.writing = entry.fresh = False

    def _fold(self, path: str, kind: str, is_dir: bool, now: float) -> _Pending | None:
        entry = self._pending.get(path)
        if entry is None:
            entry = self._pending[path] = _Pending(kind, is_dir, now)
            return entry
        change = _FOLD.get((entry.change, kind), kind)
        if change is None:
            del self._pending[path]
            return None
        entry.change, entry.is_dir, entry.last = change, is_dir, now
        return entry

    def _moved(self, src: str, dest: str, is_dir: bool, now: float) -> None:
        src_ignored, dest_ignored = self._ignored(src), self._ignored(dest)
        if not dest:  # moved out of the watched tree (some backends say so this way)
            self.feed("deleted", src, now=now, is_dir=is_dir)
            return
        if not src:  # moved in from outside: created, and already complete (never fresh)
            if not dest_ignored:
                self._fold(dest, "created", is_dir, now)
            return
        before = self._pending.pop(src, None)
        if dest_ignored:
            if not src_ignored:  # renamed to a backup name: gone, as far as anyone watching cares
                if before is not None:
                    self._pending[src] = before
                self._fold(src, "deleted", is_dir, now)
            return
        if src_ignored or (before is not None and before.change == "created" and not is_dir):
            # An atomic save: new content written to a temp file, renamed over the target.
            entry = self._fold(dest, "modified", is_dir, now)
            if entry is not None:
                entry.writing = False
            return
        origin = before.src if before is not None and before.change == "moved" and before.src else src
        if before is not None and before.change == "created":
            # A directory made and renamed within the window: its final name was created.
            self._pending[dest] = _Pending("created", is_dir, now)
            return
        self._pending[dest] = _Pending("moved", is_dir, now, src=origin)

    def _due(self, entry: _Pending) -> float:
        # Compared as `now >= last + wait` everywhere, so a wake-up at exactly next_due()
        # settles the entry (now - last could round below the wait and spin the loop).
        if entry.writing:
            return entry.last + max(self.hold, self.debounce)
        return entry.last + (max(FRESH_S, self.debounce) if entry.fresh else self.debounce)

    def _settled(self, entry: _Pending, now: float) -> bool:
        return now >= self._due(entry)

    def next_due(self) -> float | None:
        """The monotonic time at which the next pending change may settle (None: nothing pending)."""
        due = [self._due(e) for e in self._pending.values()]
        return min(due) if due else None

    def ready(self, now: float) -> list[Change]:
        """Pop the changes that have settled by `now`, oldest first."""
        done = sorted(((e.last, p) for p, e in self._pending.items() if self._settled(e, now)))
        return [self._pop(path) for _, path in done]

    def flush(self) -> list[Change]:
        """Pop every pending change, settled or not (shutdown)."""
        order = sorted((e.last, p) for p, e in self._pending.items())
        return [self._pop(path) for _, path in order]

    def _pop(self, path: str) -> Change:
        entry = self._pending.pop(path)
        return Change(path, entry.change, entry.is_dir, entry.src)

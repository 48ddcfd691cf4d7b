"""`waitbus source fs PATH [PATH...]`: a watch backend -> coalescer -> fs_change events.

On Linux the calling thread reads inotify itself (`_inotify`); elsewhere, and with
--poll, watchdog's threads hand raw events over (`_watchdog`). Either way this thread
polls the backend and a signal pipe, folds raw events (`Coalescer`), sleeps until the
next change can settle, and emits. A signal only wakes the loop, so shutdown never races
an emit: the backend is stopped, what it already read is folded in, and every pending
change is flushed before exit.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import math
import os
import select
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from waitbus import ExitCode
from waitbus import parse_duration as wire_duration

from ._coalesce import Change, Coalescer, Raw
from ._downtime import GAP_EVENT, MARK_EVERY_S, Liveness, gap_fields, gap_summary
from ._ignore import DEFAULT_IGNORE, Paths, Root

SOURCE = "fs"
EVENT_TYPE = "fs_change"
PROG = "waitbus source fs"
EXIT_USAGE = ExitCode.USAGE
EXIT_SIGINT = ExitCode.INTERRUPTED


class Watch(Protocol):
    """A backend: `start()` adds the watches; `read()` whenever `fileno()` is readable or
    `next_due()` (monotonic seconds) has come; `stop()`, a last `read(final=True)`, `close()`."""

    reports_close: bool

    def fileno(self) -> int: ...
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...
    def next_due(self) -> float | None: ...
    def read(self, now: float, *, final: bool = False) -> list[Raw]: ...


def parse_duration(text: str) -> float:
    """`0.2s`, `200ms`, `1m`, or bare seconds (`waitbus_wire.parse_duration` as an
    argparse type); at most ten minutes."""
    try:
        seconds = wire_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds > 600:
        raise argparse.ArgumentTypeError(f"{text!r} is too long for a debounce (at most 10m)")
    return seconds


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG,
        description="Watch files and directories; emit one fs_change event per completed write, "
        "move or delete, with editor temp-file churn ignored and bursts debounced.",
        epilog="Example: waitbus source fs ./src --recursive --ignore '*.pyc'. "
        "Exit codes: 0 stopped by SIGTERM (or --once done), 130 SIGINT, 2 bad arguments or a missing PATH.",
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="A directory (its entries) or a file to watch.")
    p.add_argument("--recursive", "-r", action="store_true", help="Also watch every subdirectory.")
    p.add_argument(
        "--debounce",
        type=parse_duration,
        default=0.2,
        metavar="DURATION",
        help="Report a path once it has been quiet this long (default 0.2s).",
    )
    p.add_argument(
        "--ignore",
        action="append",
        default=[],
        metavar="GLOB",
        help="Also ignore paths matching GLOB (repeatable); added to the built-in editor temp-file list.",
    )
    p.add_argument("--no-default-ignore", action="store_true", help="Drop the built-in editor temp-file list.")
    p.add_argument(
        "--poll",
        type=parse_duration,
        default=None,
        metavar="INTERVAL",
        help="Poll every INTERVAL (e.g. 1s) instead of using the OS's notifications: for network "
        "and some container mounts, where those never arrive. Writes are then reported without close-after-write.",
    )
    p.add_argument("--once", action="store_true", help="Exit 0 after the first event is emitted.")
    p.add_argument("--json", action="store_true", help="Print each event's fields as a JSON line (default: a summary).")
    p.add_argument("--verbose", "-v", action="store_true", help="Log every raw event to stderr as it is seen.")
    return p


def _roots(raw: list[str], recursive: bool) -> list[Root] | str:
    """Root per PATH, or an error message naming the first one that is missing."""
    roots: list[Root] = []
    for given in raw:
        path = os.path.abspath(given)
        if os.path.isdir(path):
            roots.append(Root(path, recursive))
        elif os.path.lexists(path):
            roots.append(Root(os.path.dirname(path), False, only=os.path.basename(path)))
        else:
            return f"{PROG}: no such file or directory: {given}"
    return roots


def fields_for(change: Change, root: Root) -> dict[str, Any] | None:
    """The event's fields, stat'ed now; None when a non-deleted path is gone (a later
    deletion event will report it)."""
    size: int | None = None
    mtime_ns: int | None = None
    is_dir = change.is_dir
    if change.change != "deleted":
        try:
            st = os.lstat(change.path)
        except OSError:
            return None
        is_dir = stat.S_ISDIR(st.st_mode)
        size = None if is_dir else st.st_size
        mtime_ns = st.st_mtime_ns
    fields: dict[str, Any] = {
        "path": change.path,
        "rel": root.rel(change.path) if root.only is None else root.only,
        "change": change.change,
        "is_dir": is_dir,
        "size": size,
        "mtime_ns": mtime_ns,
        "root": root.dir,
    }
    if change.change == "moved":
        fields["src"] = change.src
        fields["dest"] = change.path
    return fields


def delivery_id(fields: dict[str, Any]) -> str:
    """The dedup key: the same change to the same file state is one event, so a restart
    (or a backend that replays history) cannot store an old change twice. A deletion has
    no file state left, so the time it was seen stands in."""
    if fields["change"] == "deleted":
        state = str(time.time_ns())
    else:
        state = f"{fields['size']}:{fields['mtime_ns']}:{fields.get('src')}"
    digest = hashlib.sha256(f"{fields['change']}\0{fields['path']}\0{state}".encode()).hexdigest()
    return f"fs-{digest[:40]}"


@contextmanager
def _signals() -> Iterator[tuple[list[int], int]]:
    """SIGTERM/SIGINT note the signal and write a byte to a pipe the loop polls, so a stop
    never races an emit. Only the main thread may set handlers; elsewhere none are set."""
    got: list[int] = []
    r, w = os.pipe()
    os.set_blocking(w, False)
    old: dict[int, Any] = {}

    def handler(signum: int, _frame: object) -> None:
        got.append(signum)
        try:
            os.write(w, b"\0")
        except BlockingIOError:  # already woken
            pass

    try:
        if threading.current_thread() is threading.main_thread():
            old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
        yield got, r
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        os.close(r)
        os.close(w)


def _watch(paths: Paths, poll: float | None) -> Watch:
    """inotify read in this thread on Linux; watchdog (its threads) elsewhere and for --poll."""
    if poll is None and sys.platform.startswith("linux"):
        from ._inotify import InotifyWatch

        def warn(text: str) -> None:
            print(f"{PROG}: {text}", file=sys.stderr, flush=True)

        return InotifyWatch(paths.roots, warn, hidden=paths.hides)
    from ._watchdog import WatchdogWatch

    return WatchdogWatch(paths.roots, poll)


def run(argv: list[str]) -> int:
    """The runner behind `waitbus source fs`; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    roots = _roots(args.paths, args.recursive)
    if isinstance(roots, str):
        print(roots, file=sys.stderr)
        return EXIT_USAGE
    globs = tuple(args.ignore) + (() if args.no_default_ignore else DEFAULT_IGNORE)
    paths = Paths(roots, globs)

    if args.poll is not None:
        # A temp file caught by one snapshot must still be pending when the next snapshot
        # reports it renamed over its target, so the window spans at least two polls.
        args.debounce = max(args.debounce, 2 * args.poll)
    try:
        watch = _watch(paths, args.poll)
    except OSError as exc:  # the inotify instance limit (fs.inotify.max_user_instances)
        print(f"{PROG}: cannot watch: {exc}", file=sys.stderr)
        return EXIT_USAGE
    live = _liveness(roots)
    previous = None if live is None else live.previous()
    if live is not None:
        live.mark()  # before the watches start: its own state file is never one of its events
    own = "" if live is None else str(live.file.parent) + os.sep

    @functools.lru_cache(maxsize=4096)  # asked for every raw event; a write is four of them
    def ignored(path: str) -> bool:
        return paths.ignored(path) or (bool(own) and path.startswith(own))

    coalescer = Coalescer(args.debounce, ignored=ignored, reports_close=watch.reports_close)
    emitter = _Emitter(paths, json_lines=args.json)

    with _signals() as (got, stop_fd):
        try:
            try:
                watch.start()  # adds the watches before returning: changes from now on are seen
            except OSError as exc:  # inotify watch or instance limits, permissions, a PATH just removed
                print(f"{PROG}: cannot watch: {exc}", file=sys.stderr)
                return EXIT_USAGE
            try:
                listed = ", ".join(os.path.join(r.dir, r.only) if r.only else r.dir for r in roots)
                mode = "recursive" if args.recursive else "top level only"
                how = f"polling every {args.poll:g}s" if args.poll is not None else type(watch).__name__
                print(
                    f"{PROG}: watching {listed} ({mode}, debounce {args.debounce:g}s, {how})",
                    file=sys.stderr,
                    flush=True,
                )
                if previous is not None:  # the watches are in place: from here on nothing is missed
                    emitter.report_gap(previous, paths, roots)
                code = _loop(watch, stop_fd, coalescer, emitter, once=args.once, verbose=args.verbose, live=live)
            finally:
                watch.stop()
                if live is not None:
                    live.mark(stopped=True)
            if code is None:  # stopped by a signal: fold in what was already read, flush it all
                for raw in watch.read(time.monotonic(), final=True):
                    _feed(coalescer, raw, args.verbose)
                for change in coalescer.flush():
                    emitter.emit(change)
                code = EXIT_SIGINT if got and got[0] == signal.SIGINT else 0
        finally:
            watch.close()
    return code


def _feed(coalescer: Coalescer, raw: Raw, verbose: bool) -> None:
    if verbose:
        seen = f"{raw.src or '(outside)'} -> {raw.dest or '(outside)'}" if raw.kind == "moved" else raw.src
        print(f"{PROG}: seen {raw.kind} {seen}", file=sys.stderr, flush=True)
    coalescer.feed(raw.kind, raw.src, now=raw.seen, is_dir=raw.is_dir, dest=raw.dest)


def _liveness(roots: list[Root]) -> Liveness | None:
    from waitbus_store import PathError, resolve_paths

    try:
        return Liveness(roots, resolve_paths().state_dir)
    except PathError:  # no usable state dir: emit will say so on the first change
        return None


def _loop(
    watch: Watch,
    stop_fd: int,
    coalescer: Coalescer,
    emitter: _Emitter,
    *,
    once: bool,
    verbose: bool,
    live: Liveness | None = None,
) -> int | None:
    """Fold and emit until a signal (None) or, with once, the first emitted event (0);
    mark the watch alive every MARK_EVERY_S meanwhile. One thread: it polls the watch and
    the signal pipe, and sleeps at most until the next change can settle."""
    poller = select.poll()
    poller.register(watch.fileno(), select.POLLIN)
    poller.register(stop_fd, select.POLLIN)
    next_mark = time.monotonic() + MARK_EVERY_S
    while True:
        now = time.monotonic()
        if live is not None and now >= next_mark:
            live.mark()
            next_mark = now + MARK_EVERY_S
        dues = [d for d in (coalescer.next_due(), watch.next_due()) if d is not None]
        if live is not None:
            dues.append(next_mark)
        # poll() counts whole milliseconds: round up, so a wake-up is never before the due time.
        timeout = None if not dues else max(0, math.ceil((min(dues) - now) * 1000))
        if any(fd == stop_fd for fd, _ in poller.poll(timeout)):
            return None
        for raw in watch.read(time.monotonic()):
            _feed(coalescer, raw, verbose)
        for change in coalescer.ready(time.monotonic()):
            if emitter.emit(change) and once:
                return 0
            # An emit takes a while: read between them, so a burst of changes is taken off the
            # kernel's queue (16384 events by default; past it events are lost) as it comes.
            for raw in watch.read(time.monotonic()):
                _feed(coalescer, raw, verbose)


class _Emitter:
    def __init__(self, paths: Paths, *, json_lines: bool) -> None:
        self.paths = paths
        self.json_lines = json_lines
        self._emit: Callable[..., Any] | None = None

    def report_gap(self, previous: dict[str, Any], paths: Paths, roots: list[Root]) -> None:
        """One fs_gap event for a watch that ran before: the window it was blind."""
        fields = gap_fields(previous, paths, roots, time.time_ns())
        summary = gap_summary(fields)
        if self._emit is None:
            from waitbus import emit

            self._emit = emit
        try:
            result = self._emit(SOURCE, GAP_EVENT, fields=fields, summary=summary)
        except Exception as exc:  # as for a change: say so, keep watching
            print(f"{PROG}: could not store {summary!r}: {exc}", file=sys.stderr, flush=True)
            return
        print(
            json.dumps({"event_id": result.event_id, **fields}) if self.json_lines else f"{result.event_id} {summary}",
            flush=True,
        )

    def emit(self, change: Change) -> bool:
        """Store one change as an fs_change event; False if it is not reported."""
        root = self.paths.root_of(change.path)
        if root is None:  # a sibling of a watched file: seen only to fold atomic saves
            return False
        fields = fields_for(change, root)
        if fields is None:
            return False
        if self._emit is None:
            from waitbus import emit

            self._emit = emit
        summary = f"fs {fields['change']} {fields['rel']}"
        try:
            result = self._emit(SOURCE, EVENT_TYPE, fields=fields, delivery_id=delivery_id(fields), summary=summary)
        except Exception as exc:  # the log is unwritable (disk full, locked): say so, keep watching
            print(f"{PROG}: could not store {summary!r}: {exc}", file=sys.stderr, flush=True)
            return False
        if self.json_lines:
            line = json.dumps({"event_id": result.event_id, "inserted": result.inserted, **fields})
        else:
            line = f"{result.event_id} {summary}"
        print(line, flush=True)
        return True

"""`waitbus source fs PATH [PATH...]`: watchdog observers -> coalescer -> fs_change events.

Watchdog's threads only put raw events on a queue; the calling thread folds them
(`Coalescer`), sleeps until the next change can settle, and emits. Signals put a stop
marker on the same queue, so shutdown never races an emit: the observer is stopped,
what it already read is folded in, and every pending change is flushed before exit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import signal
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

from waitbus import ExitCode
from waitbus import parse_duration as wire_duration

from ._coalesce import Change, Coalescer
from ._downtime import GAP_EVENT, MARK_EVERY_S, Liveness, gap_fields, gap_summary
from ._ignore import DEFAULT_IGNORE, Paths, Root

SOURCE = "fs"
EVENT_TYPE = "fs_change"
PROG = "waitbus source fs"
EXIT_USAGE = ExitCode.USAGE
EXIT_SIGINT = ExitCode.INTERRUPTED

_STOP = object()


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
    p.add_argument("--verbose", "-v", action="store_true", help="Log every raw watchdog event to stderr as it is seen.")
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


class _Raw(NamedTuple):
    kind: str
    src: str
    dest: str
    is_dir: bool
    seen: float


class _Queue(FileSystemEventHandler):
    """Watchdog's callback: every raw event onto the queue with the time it was seen."""

    def __init__(self, q: queue.SimpleQueue[object]) -> None:
        self.q = q

    def dispatch(self, event: FileSystemEvent) -> None:
        if getattr(event, "is_synthetic", False):
            # Per-file events watchdog makes up for a directory moved as a whole: the
            # directory's own event reports the move.
            return
        src = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        self.q.put(_Raw(event.event_type, src, dest, bool(event.is_directory), time.monotonic()))


@contextmanager
def _signals(q: queue.SimpleQueue[object]) -> Iterator[list[int]]:
    """SIGTERM/SIGINT put the stop marker on the queue (SimpleQueue.put is reentrant, so
    safe in a handler). Only the main thread may set handlers; elsewhere none are set."""
    got: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield got
        return

    def handler(signum: int, _frame: object) -> None:
        got.append(signum)
        q.put(_STOP)

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield got
    finally:
        for s, h in old.items():
            signal.signal(s, h)


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

    q: queue.SimpleQueue[object] = queue.SimpleQueue()
    if args.poll is not None:
        from watchdog.observers.polling import PollingObserver

        # A temp file caught by one snapshot must still be pending when the next snapshot
        # reports it renamed over its target, so the window spans at least two polls.
        args.debounce = max(args.debounce, 2 * args.poll)

        observer: BaseObserver = PollingObserver(timeout=max(args.poll, 0.05))
    else:
        observer = Observer()
    sink = _Queue(q)
    scheduled: set[tuple[str, bool]] = set()
    for root in roots:
        key = (root.dir, root.recursive)
        if key not in scheduled:  # two file PATHs in one directory share its watch
            scheduled.add(key)
            observer.schedule(sink, root.dir, recursive=root.recursive)
    # inotify reports close-after-write; elsewhere a write is "modified" plus quiet time.
    reports_close = type(observer).__module__.endswith(".inotify")
    live = _liveness(roots)
    previous = None if live is None else live.previous()
    if live is not None:
        live.mark()  # before the watches start: its own state file is never one of its events
    own = "" if live is None else str(live.file.parent) + os.sep

    def ignored(path: str) -> bool:
        return paths.ignored(path) or (bool(own) and path.startswith(own))

    coalescer = Coalescer(args.debounce, ignored=ignored, reports_close=reports_close)
    emitter = _Emitter(paths, json_lines=args.json)

    with _signals(q) as got:
        try:
            observer.start()  # adds the watches before returning: changes from now on are seen
        except OSError as exc:  # inotify watch or instance limits, permissions, a PATH just removed
            print(f"{PROG}: cannot watch: {exc}", file=sys.stderr)
            observer.stop()  # emitters that did start must not outlive run() in-process
            return EXIT_USAGE
        try:
            listed = ", ".join(os.path.join(r.dir, r.only) if r.only else r.dir for r in roots)
            mode = "recursive" if args.recursive else "top level only"
            how = f"polling every {args.poll:g}s" if args.poll is not None else type(observer).__name__
            print(
                f"{PROG}: watching {listed} ({mode}, debounce {args.debounce:g}s, {how})", file=sys.stderr, flush=True
            )
            if previous is not None:  # the watches are in place: from here on nothing is missed
                emitter.report_gap(previous, paths, roots)
            code = _loop(q, coalescer, emitter, once=args.once, verbose=args.verbose, live=live)
        finally:
            observer.stop()
            observer.join(timeout=10)
            if live is not None:
                live.mark(stopped=True)
        if code is None:  # stopped by a signal: fold in what was already read, flush it all
            _drain(q, coalescer, args.verbose)
            for change in coalescer.flush():
                emitter.emit(change)
            code = EXIT_SIGINT if got and got[0] == signal.SIGINT else 0
    return code


def _drain(q: queue.SimpleQueue[object], coalescer: Coalescer, verbose: bool) -> None:
    while True:
        try:
            item = q.get_nowait()
        except queue.Empty:
            return
        if isinstance(item, _Raw):
            _feed(coalescer, item, verbose)


def _feed(coalescer: Coalescer, raw: _Raw, verbose: bool) -> None:
    if verbose:
        moved = f" -> {raw.dest}" if raw.dest else ""
        print(f"{PROG}: seen {raw.kind} {raw.src}{moved}", file=sys.stderr, flush=True)
    coalescer.feed(raw.kind, raw.src, now=raw.seen, is_dir=raw.is_dir, dest=raw.dest)


def _liveness(roots: list[Root]) -> Liveness | None:
    from waitbus_store import PathError, resolve_paths

    try:
        return Liveness(roots, resolve_paths().state_dir)
    except PathError:  # no usable state dir: emit will say so on the first change
        return None


def _loop(
    q: queue.SimpleQueue[object],
    coalescer: Coalescer,
    emitter: _Emitter,
    *,
    once: bool,
    verbose: bool,
    live: Liveness | None = None,
) -> int | None:
    """Fold and emit until a signal (None) or, with once, the first emitted event (0);
    mark the watch alive every MARK_EVERY_S meanwhile."""
    next_mark = time.monotonic() + MARK_EVERY_S
    while True:
        if live is not None and time.monotonic() >= next_mark:
            live.mark()
            next_mark = time.monotonic() + MARK_EVERY_S
        due = coalescer.next_due()
        if live is not None:
            due = next_mark if due is None else min(due, next_mark)
        timeout = None if due is None else max(0.0, due - time.monotonic())
        try:
            item = q.get(timeout=timeout)
        except queue.Empty:
            item = None
        while item is not None:
            if not isinstance(item, _Raw):  # the stop marker
                return None
            _feed(coalescer, item, verbose)
            try:
                item = q.get_nowait()
            except queue.Empty:
                item = None
        for change in coalescer.ready(time.monotonic()):
            if emitter.emit(change) and once:
                return 0


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

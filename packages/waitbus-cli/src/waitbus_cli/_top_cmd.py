"""`waitbus top`: one updating row per entity (CI run, container, test session,
agent thread, ...), showing its newest state. Plain ANSI escapes, no TUI library."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import _exit

if TYPE_CHECKING:
    from waitbus_wire import EventFrame

_ALT_ON, _ALT_OFF = "\x1b[?1049h\x1b[?25l", "\x1b[?25h\x1b[?1049l"  # alternate screen, cursor hidden
_HOME_CLEAR, _RED, _BOLD, _RESET = "\x1b[H\x1b[2J", "\x1b[31m", "\x1b[1m", "\x1b[0m"
_COLUMNS = ["entity", "source", "state", "events", "last", "summary"]


@dataclass
class Entity:
    kind: str
    name: str
    source: str
    state: str
    failed: bool
    received_at: int
    summary: str
    event_id: str
    events: int = 1

    def cells(self) -> list[Any]:
        from ._render import local_time

        entity = f"{self.kind} {self.name}"
        return [entity, self.source, self.state, self.events, local_time(self.received_at), self.summary]

    def as_dict(self) -> dict[str, Any]:
        from waitbus_wire import iso_utc

        return {
            "entity": f"{self.kind} {self.name}",
            "kind": self.kind,
            "name": self.name,
            "source": self.source,
            "state": self.state,
            "failed": self.failed,
            "events": self.events,
            "time": iso_utc(self.received_at),
            "summary": self.summary,
            "event_id": self.event_id,
        }


class Board:
    """The newest state per entity, in order of last update."""

    def __init__(self) -> None:
        self.rows: dict[str, Entity] = {}

    def fold(self, frame: EventFrame) -> Entity:
        from ._entities import entity_key, entity_of, is_failure, state_of

        key = entity_key(frame)
        kind, name = entity_of(frame.source, frame.event_type, frame.fields)
        old = self.rows.pop(key, None)  # re-insert: the dict stays ordered by last update
        row = Entity(
            kind,
            name,
            frame.source,
            state_of(frame),
            is_failure(frame.source, frame.fields),
            frame.received_at,
            frame.summary,
            frame.event_id,
            (old.events + 1) if old else 1,
        )
        self.rows[key] = row
        return row

    def newest_first(self) -> list[Entity]:
        return list(reversed(self.rows.values()))

    def lines(self, *, color: bool, max_rows: int | None = None) -> list[str]:
        from ._render import table

        rows = self.newest_first()[:max_rows]
        text = table(_COLUMNS, [r.cells() for r in rows]).split("\n")
        if color:
            text[0] = f"{_BOLD}{text[0]}{_RESET}"
            text[2:] = [f"{_RED}{t}{_RESET}" if r.failed else t for t, r in zip(text[2:], rows, strict=True)]
        return text


def _backfill(board: Board, since: str, source: str | None, match: list[str]) -> str:
    """Fold stored events since `since` into the board; return the cursor the live
    stream resumes from (the head read here, so nothing is missed or doubled)."""
    from waitbus_wire import ulid_from_parts

    from ._entities import Filter, head, open_log, parse_since, read_forward, seq_after

    flt = Filter(source, match)
    cursor, cutoff = parse_since(since)
    conn = open_log(missing_ok=True)
    if conn is None:
        return ulid_from_parts(0, 0)
    try:
        newest = head(conn)
        if newest is None:
            return ulid_from_parts(0, 0)
        after = seq_after(conn, cursor) if cursor else 0
        for _, frame in read_forward(conn, after=after, upto=newest[0], flt=flt, cutoff_ns=cutoff):
            if frame is not None:
                board.fold(frame)
        return newest[1]
    finally:
        conn.close()


def _draw(board: Board, header: str) -> None:
    import shutil

    height = shutil.get_terminal_size().lines
    lines = board.lines(color=True, max_rows=max(1, height - 4))
    sys.stdout.write(_HOME_CLEAR + header + "\n\n" + "\n".join(lines) + "\n")
    sys.stdout.flush()


def _plain_update(row: Entity, as_json: bool) -> None:
    from ._render import dumps, emit_line, local_time

    if as_json:
        emit_line(dumps(row.as_dict()))
    else:
        emit_line(f"{local_time(row.received_at)}  {row.kind} {row.name}  {row.state}  {row.summary}")


def top(*, since: str, source: str | None, match: list[str], once: bool, as_json: bool) -> int:
    import time

    from waitbus import HubUnavailable, subscribe
    from waitbus_wire import PredicateError

    from ._render import CliError, fail

    board = Board()
    try:
        resume = _backfill(board, since, source, match)
    except CliError as exc:
        return fail("top", exc, exc.code)
    except (PredicateError, ValueError) as exc:
        return fail("top", exc, _exit.USAGE)
    tty = sys.stdout.isatty() and not as_json
    if once:
        _print_board(board, tty=tty, as_json=as_json, once=True)
        return _exit.OK
    header = f"waitbus top: newest state per entity since {since} (Ctrl-C to quit)"
    screen = False
    try:
        # Connect before printing anything, so "no hub" is the only output then.
        with subscribe(match or None, source=source, since=resume) as sub:
            if tty:
                sys.stdout.write(_ALT_ON)
                screen = True
                _draw(board, header)
            else:
                _print_board(board, tty=False, as_json=as_json, once=False)
            while True:
                frame = sub.get(timeout=1.0 if tty else None)
                if frame is None:
                    _draw(board, header)  # a tick: ages move on, the terminal may have been resized
                    continue
                row = board.fold(frame)
                if not tty:
                    _plain_update(row, as_json)
                    continue
                # Fold a burst before repainting, so a flood costs one redraw.
                deadline = time.monotonic() + 0.05
                while (more := sub.get(timeout=max(0.0, deadline - time.monotonic()))) is not None:
                    board.fold(more)
                _draw(board, header)
    except HubUnavailable as exc:
        return fail("top", exc, _exit.USAGE)
    except KeyboardInterrupt:
        return _exit.INTERRUPTED
    finally:
        if screen:
            sys.stdout.write(_ALT_OFF)
            sys.stdout.flush()


def _print_board(board: Board, *, tty: bool, as_json: bool, once: bool) -> None:
    from ._render import dumps

    if as_json and once:
        print(dumps([r.as_dict() for r in board.newest_first()]))
    elif as_json:
        for row in reversed(board.newest_first()):
            _plain_update(row, True)
    else:
        print("\n".join(board.lines(color=tty)), flush=True)


def register(app: typer.Typer) -> None:
    @app.command("top")
    def top_cmd(
        since: Annotated[
            str,
            typer.Option(metavar="WHEN", help="Backfill from the log: this far back (1h, 1d) or after an event id."),
        ] = "1h",
        source: Annotated[str | None, typer.Option(metavar="NAME", help="Only entities of this source.")] = None,
        match: Annotated[
            list[str] | None,
            typer.Option("--match", "-m", metavar="SPEC", help="Only events matching key=<json> (repeatable)."),
        ] = None,
        once: Annotated[
            bool, typer.Option("--once", help="Print one frame from the log and exit (needs no hub).")
        ] = False,
        json: Annotated[
            bool, typer.Option("--json", help="JSON: an array of entities with --once, else one object per update.")
        ] = False,
    ) -> None:
        """A live view: one row per entity (CI run or job, container, test session, agent thread, ...)
        with its newest state, failures in red, updated on every event.

        Backfills from the log first, then follows the hub. When stdout is not a
        terminal it prints the frame once, then one plain line per update.

        \b
        Example: waitbus top --since 1d --source docker

        Exit codes: 0 ok (--once), 2 bad flag, not a waitbus store, or no hub, 130 Ctrl-C.
        """
        raise typer.Exit(top(since=since, source=source, match=match or [], once=once, as_json=json))

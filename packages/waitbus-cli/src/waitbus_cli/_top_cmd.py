"""`waitbus top`: one updating row per entity (CI run, container, test session,
agent thread, ...), showing its newest state. Plain ANSI escapes, no TUI library."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from . import _exit

if TYPE_CHECKING:
    from waitbus_store import EntityBoard, EntityState

_ALT_ON, _ALT_OFF = "\x1b[?1049h\x1b[?25l", "\x1b[?25h\x1b[?1049l"  # alternate screen, cursor hidden
_HOME_CLEAR, _RED, _BOLD, _RESET = "\x1b[H\x1b[2J", "\x1b[31m", "\x1b[1m", "\x1b[0m"
_COLUMNS = ["entity", "source", "state", "events", "last", "summary"]


def _cells(row: EntityState) -> list[Any]:
    from ._render import local_time

    return [
        f"{row.kind} {row.name}",
        row.source,
        row.state,
        row.events,
        local_time(row.frame.received_at),
        row.frame.summary,
    ]


def _as_dict(row: EntityState) -> dict[str, Any]:
    from waitbus_wire import iso_utc

    return {
        "entity": f"{row.kind} {row.name}",
        "kind": row.kind,
        "name": row.name,
        "source": row.source,
        "state": row.state,
        "failed": row.failed,
        "events": row.events,
        "time": iso_utc(row.frame.received_at),
        "summary": row.frame.summary,
        "event_id": row.frame.event_id,
    }


def _lines(board: EntityBoard, *, color: bool, max_rows: int | None = None) -> list[str]:
    from ._render import table

    rows = board.newest_first()[:max_rows]
    text = table(_COLUMNS, [_cells(r) for r in rows]).split("\n")
    if color:
        text[0] = f"{_BOLD}{text[0]}{_RESET}"
        text[2:] = [f"{_RED}{t}{_RESET}" if r.failed else t for t, r in zip(text[2:], rows, strict=True)]
    return text


def _backfill(board: EntityBoard, since: str, source: str | None, match: list[str]) -> str:
    """Fold stored events since `since` into the board; return the cursor the live
    stream resumes from (the head read here, so nothing is missed or doubled)."""
    from waitbus_store import StoreError
    from waitbus_wire import ulid_from_parts

    from ._entities import Filter, open_log, parse_since
    from ._errors import CliError

    flt = Filter(source, match)
    cursor, cutoff = parse_since(since)
    reader = open_log(missing_ok=True)
    if reader is None:
        return ulid_from_parts(0, 0)
    try:
        newest = reader.head()
        if newest is None:
            return ulid_from_parts(0, 0)
        after = reader.seq_at_or_before(cursor) if cursor else 0
        for _, frame in reader.scan(after, upto=newest[0], source=flt.source, since_ns=cutoff):
            if flt.wants(frame):
                board.fold(frame)
        return newest[1]
    except StoreError as exc:  # a damaged page: exit 2 with the store's advice
        raise CliError(str(exc)) from None
    finally:
        reader.close()


def _draw(board: EntityBoard, header: str) -> None:
    import shutil

    height = shutil.get_terminal_size().lines
    lines = _lines(board, color=True, max_rows=max(1, height - 4))
    sys.stdout.write(_HOME_CLEAR + header + "\n\n" + "\n".join(lines) + "\n")
    sys.stdout.flush()


def _plain_update(row: EntityState, as_json: bool) -> None:
    from ._render import dumps, emit_line, local_time

    if as_json:
        emit_line(dumps(_as_dict(row)))
    else:
        emit_line(f"{local_time(row.frame.received_at)}  {row.kind} {row.name}  {row.state}  {row.frame.summary}")


def top(*, since: str, source: str | None, match: list[str], once: bool, as_json: bool) -> int:
    import time

    from waitbus import HubUnavailable, entity_keys, subscribe
    from waitbus_store import EntityBoard
    from waitbus_wire import PredicateError

    from ._errors import CliError
    from ._render import fail

    board = EntityBoard(entity_keys())
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


def _print_board(board: EntityBoard, *, tty: bool, as_json: bool, once: bool) -> None:
    from ._render import dumps

    if as_json and once:
        print(dumps([_as_dict(r) for r in board.newest_first()]))
    elif as_json:
        for row in reversed(board.newest_first()):
            _plain_update(row, True)
    else:
        print("\n".join(_lines(board, color=tty)), flush=True)


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

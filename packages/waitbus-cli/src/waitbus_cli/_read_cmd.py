"""`waitbus read-events watch|list` and `waitbus replay`: reading what the bus carries.

`watch` is a live tail through the hub (it reconnects across hub restarts); `list`
and `replay` read the log directly, so they work with no hub running.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from . import _exit

if TYPE_CHECKING:
    from waitbus_wire import EventFrame

_MATCH_HELP = "Match spec key=<json>, repeatable (AND across keys, OR within one): --match 'fields.status=\"done\"'."
_SOURCE_HELP = "Only events of this source (pytest, docker, github, agent, ...)."
_BOOKMARK_HELP = (
    "Named cursor in the store: resume after the last event a run with this name printed (saved as it goes)."
)

# The options every reading verb shares, declared once.
Match = Annotated[list[str] | None, typer.Option("--match", "-m", metavar="SPEC", help=_MATCH_HELP)]
Source = Annotated[str | None, typer.Option(metavar="NAME", help=_SOURCE_HELP)]
Bookmark = Annotated[str | None, typer.Option(metavar="NAME", help=_BOOKMARK_HELP)]
JsonLines = Annotated[bool, typer.Option("--json", help="One JSON object per line.")]


def _print_event(frame: EventFrame, as_json: bool) -> None:
    from waitbus_wire import event_dict

    from ._render import dumps, emit_line, event_line

    emit_line(dumps(event_dict(frame)) if as_json else event_line(frame))


# -- watch -----------------------------------------------------------------------


def watch(*, match: list[str], source: str | None, since: str | None, bookmark: str | None, as_json: bool) -> int:
    from waitbus import HubUnavailable, subscribe
    from waitbus_store import StoreError
    from waitbus_wire import PredicateError, ulid_from_parts

    from ._entities import open_store, since_cursor
    from ._errors import CliError
    from ._render import fail

    store = None
    shown = ""  # the last event printed
    try:
        start = since_cursor(since) if since else None
        if bookmark:
            store = open_store()
            saved = store.get_bookmark(bookmark)
            if saved:
                start = saved
            else:
                if start is None:
                    # A new bookmark starts at the head, saved now, so a second run
                    # resumes here even if this one sees nothing.
                    top = store.head()
                    start = top[1] if top else ulid_from_parts(0, 0)
                store.set_bookmark(bookmark, start)
        with subscribe(match or None, source=source, since=start) as sub:
            for frame in sub:
                shown = frame.event_id
                _print_event(frame, as_json)
                if store is not None and bookmark:
                    store.set_bookmark(bookmark, shown)
    except CliError as exc:
        return fail("read-events watch", exc, exc.code)
    except (PredicateError, ValueError, HubUnavailable) as exc:
        return fail("read-events watch", exc, _exit.USAGE)
    except StoreError as exc:  # saving the bookmark
        return fail("read-events watch", exc, _exit.STORE)
    except KeyboardInterrupt:
        # Ctrl-C can land between printing an event and saving it: save it now, so
        # the next run starts after the last event this one showed.
        if store is not None and bookmark and shown:
            store.set_bookmark(bookmark, shown)
        return _exit.INTERRUPTED
    finally:
        if store is not None:
            store.close()
    return _exit.OK


# -- list ------------------------------------------------------------------------


def list_events(*, since: str | None, limit: int, source: str | None, match: list[str], as_json: bool) -> int:
    from waitbus_store import StoreError, resolve_paths
    from waitbus_wire import event_dict

    from ._entities import Filter, open_log, parse_since
    from ._errors import CliError
    from ._render import dumps, event_line, fail

    try:
        flt = Filter(source, match)
        cursor, cutoff = parse_since(since) if since else (None, None)
        reader = open_log(missing_ok=True)
    except CliError as exc:
        return fail("read-events list", exc, exc.code)
    except ValueError as exc:
        return fail("read-events list", exc, _exit.USAGE)
    frames: list[EventFrame] = []
    if reader is None:
        print(f"waitbus read-events list: no events stored yet ({resolve_paths().db})", file=sys.stderr)
    else:
        try:
            # Newest first until `limit` events pass the --match filter.
            for _, frame in reader.recent(source=flt.source, after_id=cursor, since_ns=cutoff, batch=max(limit, 200)):
                if flt.wants(frame):
                    frames.append(frame)
                    if len(frames) == limit:
                        break
        except StoreError as exc:  # a damaged page met mid-read
            return fail("read-events list", exc, _exit.USAGE)
        finally:
            reader.close()
    frames.reverse()  # oldest first, like a tail
    if as_json:
        print("[" + ",\n".join(dumps(event_dict(f)) for f in frames) + "]")
    else:
        for frame in frames:
            print(event_line(frame))
    return _exit.OK


# -- replay ----------------------------------------------------------------------


def replay(
    *,
    since: str | None,
    bookmark: str | None,
    coalesce: bool,
    source: str | None,
    match: list[str],
    as_json: bool,
    show_progress: bool,
) -> int:
    from waitbus import entity_keys
    from waitbus_store import StoreError, entity_key

    from ._entities import Filter, open_log, open_store, since_cursor
    from ._errors import CliError
    from ._render import fail, progress

    store = None
    reader = None
    try:
        flt = Filter(source, match)
        start = since_cursor(since) if since else None
        if bookmark:
            store = open_store()
            start = store.get_bookmark(bookmark) or start
        reader = open_log(missing_ok=True)
        newest = reader.head() if reader is not None else None
        after = reader.seq_at_or_before(start) if reader is not None and start else 0
    except CliError as exc:
        return fail("replay", exc, exc.code)
    except ValueError as exc:
        return fail("replay", exc, _exit.USAGE)
    except StoreError as exc:  # a damaged page
        if reader is not None:
            reader.close()
        return fail("replay", exc, _exit.USAGE)
    if reader is None or newest is None:
        if store is not None:
            store.close()
        if reader is not None:
            reader.close()
        return _exit.OK
    report = progress("replay", forced=show_progress, every=10_000)
    keys = entity_keys() if coalesce else None
    latest: dict[str, EventFrame] = {}
    scanned: str | None = None
    done, code = 0, _exit.OK
    try:
        total = reader.count(source=flt.source, after=after, upto=newest[0]) if report else 0
        for _, frame in reader.scan(after, upto=newest[0], source=flt.source):
            done += 1
            if report:
                report(done, total)
            if flt.wants(frame):
                if coalesce:
                    key = entity_key(frame, keys)
                    latest.pop(key, None)  # re-insert: output follows each entity's newest event
                    latest[key] = frame
                else:
                    _print_event(frame, as_json)
            scanned = frame.event_id
        for frame in latest.values():
            _print_event(frame, as_json)
        scanned = newest[1]  # everything up to the head was seen, filtered or not
    except KeyboardInterrupt:
        code = _exit.INTERRUPTED
        if coalesce:
            scanned = None  # nothing was printed: keep the cursor where it was
    except StoreError as exc:  # a damaged page met mid-read: keep the bookmark where it was
        code = fail("replay", exc, _exit.USAGE)
        scanned = None
    finally:
        reader.close()
    if store is not None:
        try:
            if bookmark and scanned:
                store.set_bookmark(bookmark, scanned)
        except StoreError as exc:
            code = fail("replay", exc, _exit.STORE)
        finally:
            store.close()
    return code


# -- the commands ----------------------------------------------------------------


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Read events: a live tail (watch) or the recent log (list).", no_args_is_help=True)
    app.add_typer(group, name="read-events")

    @group.command("watch")
    def watch_cmd(
        match: Match = None,
        source: Source = None,
        since: Annotated[
            str | None,
            typer.Option(
                metavar="WHEN", help="First replay stored events after this event id, or from this long ago (1h)."
            ),
        ] = None,
        bookmark: Bookmark = None,
        json: JsonLines = False,
    ) -> None:
        """Live tail: print each event as it lands, one line each, until Ctrl-C.

        Line: local time, source/event_type, owner/repo, summary, event id.
        Survives hub restarts. A saved --bookmark wins over --since.

        \b
        Example: waitbus read-events watch --source pytest --bookmark mytail

        Exit codes: 0 stream ended, 2 bad flag or no hub (start one: waitbus broadcast serve),
        4 the bookmark could not be saved, 130 Ctrl-C.
        """
        raise typer.Exit(watch(match=match or [], source=source, since=since, bookmark=bookmark, as_json=json))

    @group.command("list")
    def list_cmd(
        since: Annotated[
            str | None, typer.Option(metavar="WHEN", help="Only events newer than this (1h, 30m, 2d) or an event id.")
        ] = None,
        limit: Annotated[int, typer.Option(metavar="N", min=1, help="At most this many (the newest).")] = 50,
        source: Source = None,
        match: Match = None,
        json: Annotated[bool, typer.Option("--json", help="A JSON array of events (oldest first).")] = False,
    ) -> None:
        """Print recent events from the log, oldest first. Needs no hub.

        \b
        Example: waitbus read-events list --since 1h --json

        Exit codes: 0 ok (also when nothing is stored yet), 2 bad flag or not a waitbus store.
        """
        raise typer.Exit(list_events(since=since, limit=limit, source=source, match=match or [], as_json=json))

    @app.command("replay")
    def replay_cmd(
        since: Annotated[
            str | None,
            typer.Option(
                metavar="WHEN",
                help="Print events committed after this event id (or from this long ago: 1h). Default: all.",
            ),
        ] = None,
        bookmark: Bookmark = None,
        coalesce: Annotated[
            bool, typer.Option("--coalesce", help="Only the newest event per entity (CI run, container, ...).")
        ] = False,
        source: Source = None,
        match: Match = None,
        json: JsonLines = False,
        show_progress: Annotated[
            bool, typer.Option("--progress", help="Report progress on stderr (default: only on a terminal).")
        ] = False,
    ) -> None:
        """Print stored events after a cursor in commit order, then exit (no live tail).

        A saved --bookmark wins over --since, so running the same command twice
        prints only what is new the second time.

        \b
        Example: waitbus replay --since 01JD5Z8Q4W6E7R8T9Y0A1B2C3D --bookmark ci --coalesce

        Exit codes: 0 ok, 2 bad flag or not a waitbus store, 4 the bookmark could not be saved, 130 Ctrl-C.
        """
        raise typer.Exit(
            replay(
                since=since,
                bookmark=bookmark,
                coalesce=coalesce,
                source=source,
                match=match or [],
                as_json=json,
                show_progress=show_progress,
            )
        )

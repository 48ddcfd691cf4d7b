"""`waitbus db prune|migrate|check` (keeping the log bounded, current and sound) and `waitbus stats`."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from . import _exit

_JSON_HELP = "Print the result as one JSON object."

# -- db prune --------------------------------------------------------------------


def _limits(older_than: str | None, max_size: str | None, max_rows: int | None) -> tuple[dict[str, Any], str]:
    """The three limits, from the flags if any is given, else from the config."""
    from waitbus_wire import parse_duration

    from ._units import parse_size

    if older_than is not None or max_size is not None or max_rows is not None:
        return {
            "older_than_s": parse_duration(older_than) if older_than is not None else None,
            "max_bytes": parse_size(max_size) if max_size is not None else None,
            "max_rows": max_rows,
        }, "flags"
    from ._config import load
    from ._config_file import config_path

    retention = load().retention
    limits = {
        "older_than_s": retention.older_than_s(),
        "max_bytes": retention.max_bytes(),
        "max_rows": retention.max_rows,
    }
    return limits, f"config {config_path()} (defaults where unset)"


def _describe(limits: dict[str, Any]) -> str:
    from ._render import human_bytes

    parts = []
    if limits["older_than_s"] is not None:
        parts.append(f"older than {limits['older_than_s'] / 86400:g}d")
    if limits["max_bytes"] is not None:
        parts.append(f"over {human_bytes(limits['max_bytes'])}")
    if limits["max_rows"] is not None:
        parts.append(f"beyond {limits['max_rows']} rows")
    return ", ".join(parts) or "none"


def prune(
    *,
    older_than: str | None,
    max_size: str | None,
    max_rows: int | None,
    dry_run: bool,
    as_json: bool,
    show_progress: bool,
) -> int:
    from waitbus_store import StoreError, resolve_paths
    from waitbus_store import prune as store_prune
    from waitbus_wire import iso_utc

    from ._entities import open_store
    from ._errors import CliError
    from ._render import dumps, fail, human_bytes, progress

    try:
        limits, origin = _limits(older_than, max_size, max_rows)
    except (ValueError, OSError) as exc:  # a bad flag; a bad config (pydantic, TOML) or an unreadable one
        return fail("db prune", str(exc).strip(), _exit.USAGE)
    db = resolve_paths().db
    out: dict[str, Any] = {"db": str(db), "limits": limits, "limits_from": origin, "dry_run": dry_run}
    if not db.exists():
        out.update(deleted=0, remaining=0, size_before=0, size_after=0)
        print(dumps(out) if as_json else f"no event store at {db}: nothing to prune")
        return _exit.OK
    try:
        store = open_store()
    except CliError as exc:
        return fail("db prune", exc, exc.code)
    try:
        report = progress("prune", forced=show_progress)
        result = store_prune(store, **limits, dry_run=dry_run, progress=report)
    except StoreError as exc:
        return fail("db prune", exc, _exit.STORE)
    finally:
        store.close()
    out.update(result._asdict())
    through = {"event_id": result.through[0], "time": iso_utc(result.through[1])} if result.through else None
    out["through"] = through
    if as_json:
        print(dumps(out))
    elif dry_run:
        upto = f", received up to {through['time']}" if through else ""
        print(
            f"would delete {result.deleted} of {result.deleted + result.remaining} events (oldest first{upto}); "
            f"the log uses {human_bytes(result.size_before)}. limits from {origin}: {_describe(limits)}"
        )
    else:
        print(
            f"deleted {result.deleted} events, {result.remaining} remain; "
            f"size {human_bytes(result.size_before)} -> {human_bytes(result.size_after)}. "
            f"limits from {origin}: {_describe(limits)}"
        )
    return _exit.OK


# -- db migrate ------------------------------------------------------------------


def migrate(*, as_json: bool) -> int:
    from waitbus_store import SCHEMA_VERSION, PathError, Store, StoreError, resolve_paths, schema_status

    from ._render import dumps, fail

    db = resolve_paths().db
    created = not db.exists()
    try:
        if not created:
            schema_status(db)  # a foreign, corrupt or too-new file: refuse before touching it
    except StoreError as exc:
        return fail("db migrate", exc, _exit.USAGE)
    try:
        with Store(db) as store:
            before, after = store.schema_before, store.schema_version
    except (StoreError, PathError) as exc:
        return fail("db migrate", exc, _exit.STORE)
    out = {"db": str(db), "before": before, "after": after, "latest": SCHEMA_VERSION, "created": created}
    out["migrated"] = before != after
    if as_json:
        print(dumps(out))
    elif created:
        print(f"created {db} at schema version {after}")
    elif before != after:
        print(f"migrated {db} from schema version {before} to {after}")
    else:
        print(f"{db} is at schema version {after}, the latest: nothing to do")
    return _exit.OK


# -- db check --------------------------------------------------------------------


def check(*, as_json: bool) -> int:
    """SQLite's full integrity check of the log: 0 sound, 1 damaged, 2 not readable as ours."""
    from waitbus_store import StoreError, open_reader, resolve_paths

    from ._render import dumps, fail

    db = resolve_paths().db
    try:
        reader = open_reader(db)
        if reader is None:
            problems: list[str] = []
        else:
            with reader:
                problems = reader.integrity_check()
    except StoreError as exc:  # foreign, too new, or damaged past reading
        return fail("db check", exc, _exit.USAGE)
    advice = f"{db} is damaged; move it away (and its -wal, -shm) and run `waitbus init`" if problems else ""
    if as_json:
        print(dumps({"db": str(db), "exists": db.exists(), "ok": not problems, "problems": problems}))
    elif problems:
        print(f"{advice}. SQLite's integrity check found:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    else:
        print(f"{db}: integrity ok" if db.exists() else f"no event store at {db}: nothing to check")
    return _exit.FAILED if problems else _exit.OK


# -- stats -----------------------------------------------------------------------


def stats(*, as_json: bool) -> int:
    from waitbus_store import StoreError, TypeSummary, resolve_paths
    from waitbus_wire import iso_utc

    from ._entities import open_log
    from ._errors import CliError
    from ._render import dumps, fail, human_bytes, local_time, table

    db = resolve_paths().db
    try:
        reader = open_log(missing_ok=True)
    except CliError as exc:
        return fail("stats", exc, exc.code)
    wal = db.with_name(db.name + "-wal")
    out: dict[str, Any] = {
        "db": str(db),
        "exists": db.exists(),
        "db_bytes": db.stat().st_size if db.exists() else 0,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        "total": 0,
        "first_event": None,
        "last_event": None,
        "by_type": [],
        "bookmarks": {},
    }
    groups: list[TypeSummary] = []
    if reader is not None:
        try:
            groups = reader.by_type()
            ends = [reader.first(), reader.last()]
            out["schema_version"] = reader.schema_version
            out["bookmarks"] = reader.bookmarks()
        except StoreError as exc:  # a damaged page: exit 2 with the store's advice
            return fail("stats", exc, _exit.USAGE)
        finally:
            reader.close()
        out["by_type"] = [
            {
                "source": g.source,
                "event_type": g.event_type,
                "events": g.events,
                "first_time": iso_utc(g.first_ns),
                "last_time": iso_utc(g.last_ns),
            }
            for g in groups
        ]
        out["total"] = sum(g.events for g in groups)
        for key, frame in zip(("first_event", "last_event"), ends, strict=True):
            out[key] = {"event_id": frame.event_id, "time": iso_utc(frame.received_at)} if frame else None
    if as_json:
        print(dumps(out))
        return _exit.OK
    size = f"{human_bytes(out['db_bytes'])} file + {human_bytes(out['wal_bytes'])} WAL"
    print(f"{out['total']} events in {db} ({size})")
    if reader is None:
        return _exit.OK
    if out["total"]:
        first, last = min(g.first_ns for g in groups), max(g.last_ns for g in groups)
        print(f"received from {local_time(first)} to {local_time(last)} (local time)\n")
        rows = [(g.source, g.event_type, g.events, local_time(g.last_ns)) for g in groups]
        print(table(["source", "event_type", "events", "last"], rows))
    if out["bookmarks"]:
        print("\nbookmarks: " + ", ".join(f"{k} at {v}" for k, v in out["bookmarks"].items()))
    return _exit.OK


# -- the commands ----------------------------------------------------------------


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Maintain the event log: prune old events, apply schema migrations.", no_args_is_help=True)
    app.add_typer(group, name="db")

    @group.command("prune")
    def prune_cmd(
        older_than: Annotated[
            str | None, typer.Option(metavar="AGE", help="Delete events older than this (30d, 12h).")
        ] = None,
        max_size: Annotated[
            str | None, typer.Option(metavar="SIZE", help="Delete the oldest until the log fits (500MB).")
        ] = None,
        max_rows: Annotated[int | None, typer.Option(metavar="N", min=0, help="Keep at most this many events.")] = None,
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be deleted.")] = False,
        json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False,
        show_progress: Annotated[
            bool, typer.Option("--progress", help="Report progress on stderr (default: only on a terminal).")
        ] = False,
    ) -> None:
        """Delete the oldest events beyond the limits, then give the space back.

        With no limit flags, the [retention] limits of the config apply
        (defaults: older than 30d, over 500MB).
        Deletion is always oldest-first, so cursors and bookmarks stay valid.

        \b
        Example: waitbus db prune --older-than 30d --max-size 500MB --dry-run

        Exit codes: 0 ok, 2 bad flag, bad config or not a waitbus store, 4 the log could not be written.
        """
        raise typer.Exit(
            prune(
                older_than=older_than,
                max_size=max_size,
                max_rows=max_rows,
                dry_run=dry_run,
                as_json=json,
                show_progress=show_progress,
            )
        )

    @group.command("check")
    def check_cmd(json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False) -> None:
        """Run SQLite's full integrity check on the event log (reads every page). Needs no hub.

        `waitbus emit` does not read the whole file, so a damaged page that no write
        touches is found only here, by `waitbus doctor` (a quicker check) or by a reader
        that reaches it.

        \b
        Example: waitbus db check

        Exit codes: 0 sound (or no log yet), 1 damaged (the problems are listed), 2 not a waitbus store,
        newer than this waitbus, or unreadable.
        """
        raise typer.Exit(check(as_json=json))

    @group.command("migrate")
    def migrate_cmd(json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False) -> None:
        """Apply pending schema migrations and report the schema version before and after.

        Creates the store if there is none. Safe to run any time (idempotent).

        \b
        Example: waitbus db migrate --json

        Exit codes: 0 ok, 2 not a waitbus store, corrupt, or newer than this waitbus, 4 could not be written.
        """
        raise typer.Exit(migrate(as_json=json))

    @app.command("stats")
    def stats_cmd(json: Annotated[bool, typer.Option("--json", help=_JSON_HELP)] = False) -> None:
        """Counts per source/event_type, the total, first and last event, and the log's size. Needs no hub.

        \b
        Example: waitbus stats --json

        Exit codes: 0 ok (also when nothing is stored yet), 2 not a waitbus store.
        """
        raise typer.Exit(stats(as_json=json))

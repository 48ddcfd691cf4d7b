"""`waitbus status` (what the bus holds and whether the hub is up) and `waitbus doctor`."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from . import _exit


def _db_size(db: Path) -> int:
    return sum(p.stat().st_size for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def _store_facts(db: Path) -> dict[str, Any]:
    """Counts and the newest event, read through the store's reader (raises StoreError)."""
    from waitbus_store import open_reader

    facts: dict[str, Any] = {"path": str(db), "exists": db.exists(), "size_bytes": 0, "schema_version": None}
    if not db.exists():
        return {**facts, "events": 0, "last_event": None}
    reader = open_reader(db)
    facts.update(size_bytes=_db_size(db), schema_version=reader.schema_version if reader else 0)
    if reader is None:  # ours, but no schema yet
        return {**facts, "events": 0, "last_event": None}
    try:
        count = reader.count()
        frame = reader.last()
    finally:
        reader.close()
    last = None
    if frame:
        from datetime import datetime

        when = datetime.fromtimestamp(frame.received_at / 1e9).astimezone().isoformat(timespec="seconds")
        last = {
            "event_id": frame.event_id,
            "source": frame.source,
            "event_type": frame.event_type,
            "received_at": frame.received_at,
            "received_at_iso": when,
            "summary": frame.summary,
        }
    return {**facts, "events": count, "last_event": last}


def gather() -> dict[str, Any]:
    from waitbus import hub_status
    from waitbus_store import resolve_paths

    paths = resolve_paths()
    store = _store_facts(paths.db)
    hub = hub_status(paths.socket)
    return {"events": store.pop("events"), "last_event": store.pop("last_event"), "db": store, "hub": hub}


def _ago(ns: int) -> str:
    secs = max(0.0, time.time() - ns / 1e9)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if secs >= size:
            return f"{secs / size:.0f}{unit} ago"
    return f"{secs:.0f}s ago"


def _human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{n} B"


def render(facts: dict[str, Any]) -> str:
    db, hub, last = facts["db"], facts["hub"], facts["last_event"]
    lines = []
    if db["exists"]:
        lines.append(
            f"events      {facts['events']} in {db['path']} ({_human_bytes(db['size_bytes'])}, "
            f"schema v{db['schema_version']})"
        )
    else:
        lines.append(f"events      0: no event store yet at {db['path']} (waitbus init, or emit an event)")
    if last:
        when = last["received_at_iso"]
        summary = f"  {last['summary']}" if last["summary"] else ""
        lines.append(
            f"last event  {last['event_id']} {last['source']}/{last['event_type']} at {when} "
            f"({_ago(last['received_at'])}){summary}"
        )
    else:
        lines.append("last event  none")
    if hub["alive"]:
        n = hub["subscribers"]
        lines.append(
            f"hub         running, pid {hub['pid']}, up {hub['uptime_sec']:.0f}s, "
            f"{n} subscriber{'' if n == 1 else 's'}, {hub['events_broadcast']} events broadcast ({hub['socket']})"
        )
    else:
        lines.append(f"hub         not running: {hub['reason']} (waitbus broadcast serve; or a wait autostarts one)")
    return "\n".join(lines)


def run_status(as_json: bool) -> int:
    from waitbus_store import PathError, StoreError

    try:
        facts = gather()
    except (StoreError, PathError) as exc:
        print(f"waitbus status: cannot read the event log: {exc} (run `waitbus doctor`)", file=sys.stderr)
        return _exit.USAGE
    print(json.dumps(facts, indent=2) if as_json else render(facts))
    return _exit.OK


def register(app: typer.Typer) -> None:
    @app.command()
    def status(
        json: Annotated[bool, typer.Option("--json", help="Print {events, last_event, db, hub} as JSON.")] = False,
    ) -> None:
        """Operational dashboard: events in the log, the newest one, the db, hub liveness and subscribers.

        Works with no hub running (it is then reported as not running).

        Example: waitbus status --json

        Exit codes: 0 reported, 2 the event log exists but cannot be read (foreign or corrupt file).
        """
        raise typer.Exit(run_status(json))

    @app.command()
    def doctor(
        json: Annotated[
            bool, typer.Option("--json", help="Print {ok, checks: [{name, status, detail}]} as JSON.")
        ] = False,
    ) -> None:
        """Check the install: paths and permissions, the store, secrets (never printed), units, daemons.

        One line per check: ok, WARN (works, but look) or FAIL (something needed is broken).
        A secret is required only when a unit that needs it is enabled.

        Example: waitbus doctor

        Exit codes: 0 no FAIL (WARNs allowed), 1 at least one FAIL.
        """
        from ._doctor import run_doctor

        raise typer.Exit(run_doctor(json))

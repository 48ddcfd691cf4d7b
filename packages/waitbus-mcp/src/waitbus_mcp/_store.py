"""Reading the event log, read-only (these functions block: call them in a worker thread).

The server never writes the log except through `waitbus.emit`/`respond`. Every read opens
its own read-only connection (`query_only`), so a slow query cannot hold a write lock and
a concurrent reader in another thread cannot trip over a shared connection.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waitbus_wire import iso_utc

if TYPE_CHECKING:
    from waitbus_wire import EventFrame

_COLS = "seq, event_id, source, event_type, owner, repo, received_at, delivery_id, summary, fields"
SCAN_CAP = 20_000  # rows one call may examine before it returns with a cursor to continue from
ZERO_CURSOR = "0" * 26  # sorts before every event id: "from the start of the log"


def db_path() -> str:
    from waitbus_store import resolve_paths

    return str(resolve_paths().db)


@contextmanager
def reader() -> Iterator[sqlite3.Connection | None]:
    """A read-only connection, or None when there is no log (nothing emitted yet)."""
    from pathlib import Path

    from waitbus_store import connect_readonly

    path = db_path()
    if not Path(path).exists():
        yield None
        return
    conn = connect_readonly(path)
    try:
        has_table = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone()
        yield conn if has_table else None
    finally:
        conn.close()


def _frame(row: tuple[Any, ...]) -> EventFrame:
    import json

    from waitbus_wire import EventFrame

    _, event_id, source, event_type, owner, repo, received_at, delivery_id, summary, fields = row[:10]
    try:
        decoded = json.loads(fields)
    except ValueError:
        decoded = {"_undecodable_fields": str(fields)[:200]}
    return EventFrame(
        event_id=event_id,
        event_type=event_type,
        source=source,
        owner=owner,
        repo=repo,
        received_at=int(received_at),
        delivery_id=delivery_id,
        summary=summary,
        fields=decoded if isinstance(decoded, dict) else {"_fields": decoded},
    )


def event_dict(frame: EventFrame) -> dict[str, Any]:
    """An event as the tools return it: the one event shape, plus its resource URI."""
    from waitbus_wire import event_dict as shape

    return {**shape(frame), "resource": f"waitbus://event/{frame.event_id}"}


# -- status ---------------------------------------------------------------------------------


def summary() -> dict[str, Any]:
    with reader() as conn:
        if conn is None:
            return {"path": db_path(), "exists": False, "event_count": 0, "last_event": None}
        count = int(conn.execute("SELECT count(*) FROM events").fetchone()[0])
        row = conn.execute(f"SELECT {_COLS} FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return {
            "path": db_path(),
            "exists": True,
            "event_count": count,
            "last_event": event_dict(_frame(row)) if row else None,
        }


def head_id() -> str | None:
    with reader() as conn:
        if conn is None:
            return None
        row = conn.execute("SELECT event_id FROM events ORDER BY seq DESC LIMIT 1").fetchone()
        return str(row[0]) if row else None


def sources(limit: int = 200) -> list[tuple[str, int]]:
    with reader() as conn:
        if conn is None:
            return []
        rows = conn.execute(
            "SELECT source, count(*) FROM events GROUP BY source ORDER BY source LIMIT ?", (limit,)
        ).fetchall()
        return [(str(r[0]), int(r[1])) for r in rows]


# -- queries --------------------------------------------------------------------------------


def recent(
    *,
    source: str | None,
    event_type: str | None,
    since: str | float | None,
    limit: int,
    test: Callable[[EventFrame], bool] | None,
) -> tuple[list[EventFrame], bool]:
    """The newest `limit` matching events, newest first, and whether the scan was cut
    short at SCAN_CAP rows (so older matches may exist)."""
    where: list[str] = ["1 = 1"]
    params: list[str | int] = []
    if source is not None:
        where.append("source = ?")
        params.append(source)
    if event_type is not None:
        where.append("event_type = ?")
        params.append(event_type)
    if isinstance(since, str):
        where.append("event_id > ?")
        params.append(since)
    elif since is not None:
        where.append("received_at >= ?")
        params.append(time.time_ns() - int(since * 1e9))
    out: list[EventFrame] = []
    with reader() as conn:
        if conn is None:
            return [], False
        query = f"SELECT {_COLS} FROM events WHERE {' AND '.join(where)} AND seq < ? ORDER BY seq DESC LIMIT ?"
        before, scanned = 2**62, 0
        while len(out) < limit and scanned < SCAN_CAP:
            rows = conn.execute(query, (*params, before, 500)).fetchall()
            if not rows:
                return out, False
            for row in rows:
                scanned += 1
                frame = _frame(row)
                if test is None or test(frame):
                    out.append(frame)
                    if len(out) >= limit:
                        return out, False
            before = int(rows[-1][0])
    return out, scanned >= SCAN_CAP


@dataclass
class Scan:
    events: list[EventFrame]
    last_seen: str | None  # the newest event id examined (every row up to it was looked at)
    at_head: bool  # the scan reached the newest stored event


def scan_after(cursor: str, test: Callable[[EventFrame], bool], limit: int) -> Scan:
    """Matching events stored after `cursor` (an event id; it need not exist), in commit order.

    Commit order equals event-id order, so a row committed after this read has an id
    greater than every row it examined: `last_seen` is a safe cursor to resume from.
    """
    out: list[EventFrame] = []
    last: str | None = None
    with reader() as conn:
        if conn is None:
            return Scan([], None, True)
        row = conn.execute(
            "SELECT seq FROM events WHERE event_id <= ? ORDER BY event_id DESC LIMIT 1", (cursor,)
        ).fetchone()
        after = int(row[0]) if row else 0
        scanned = 0
        while scanned < SCAN_CAP:
            rows = conn.execute(f"SELECT {_COLS} FROM events WHERE seq > ? ORDER BY seq LIMIT 500", (after,)).fetchall()
            if not rows:
                return Scan(out, last, True)
            for row in rows:
                scanned += 1
                frame = _frame(row)
                last = frame.event_id
                if test(frame):
                    out.append(frame)
                    if len(out) >= limit:
                        return Scan(out, last, False)
            after = int(rows[-1][0])
    return Scan(out, last, False)


def get(event_id: str) -> tuple[EventFrame, bytes | None] | None:
    with reader() as conn:
        if conn is None:
            return None
        row = conn.execute(f"SELECT {_COLS}, payload FROM events WHERE event_id = ?", (event_id,)).fetchone()
        if row is None:
            return None
        payload = row[-1]
        return _frame(row), (bytes(payload) if payload is not None else None)


# -- per-source state -----------------------------------------------------------------------

# source -> fields naming the entity an event is about, most specific first (the same
# rule as `waitbus top`); a source plugin's SourceSpec.entity_key wins over this table.
_ENTITY_FIELDS: dict[str, tuple[str, ...]] = {
    "github": ("fields.job_id", "fields.run_id"),
    "docker": ("fields.container_id", "fields.container", "fields.container_name", "fields.name", "fields.id"),
    "pytest": ("fields.rootdir",),
    "fs": ("fields.path",),
    "agent": ("fields.msg_thread",),
}
_STATE_FIELDS = ("conclusion", "outcome", "status", "state", "action", "change", "result")
_spec_keys: dict[str, tuple[str, ...]] | None = None


def _entity_keys(source: str) -> tuple[str, ...]:
    global _spec_keys  # noqa: PLW0603 - a cache of installed source plugins, filled once
    if _spec_keys is None:
        found: dict[str, tuple[str, ...]] = {}
        try:
            from waitbus import installed_sources

            for name, spec in installed_sources().items():
                if spec.entity_key:
                    found[name] = tuple(spec.entity_key)
        except Exception:  # a broken plugin must not break the resource; fall back to the table
            found = {}
        _spec_keys = found
    return _spec_keys.get(source) or _ENTITY_FIELDS.get(source, ())


def entity_of(frame: EventFrame) -> str:
    from waitbus_wire import MISSING, lookup

    for key in _entity_keys(frame.source):
        value = lookup(frame, tuple(key.split(".")))
        if value is not MISSING and value is not None and value != "" and not isinstance(value, dict | list):
            return f"{key.removeprefix('fields.')}={value}"
    return f"event_type={frame.event_type}"


def state_of(frame: EventFrame) -> str:
    for key in _STATE_FIELDS:
        value = frame.fields.get(key)
        if value is not None and not isinstance(value, dict | list):
            return str(value)
    return frame.event_type


def source_state(source: str, *, recent_n: int = 10, window: int = 500) -> dict[str, Any]:
    """Latest events of one source and the newest event per entity (its current state)."""
    with reader() as conn:
        if conn is None:
            return {"source": source, "event_count": 0, "entities": [], "latest_events": []}
        count = int(conn.execute("SELECT count(*) FROM events WHERE source = ?", (source,)).fetchone()[0])
        rows = conn.execute(
            f"SELECT {_COLS} FROM events WHERE source = ? ORDER BY seq DESC LIMIT ?", (source, window)
        ).fetchall()
    frames = [_frame(r) for r in rows]
    entities: dict[str, EventFrame] = {}
    for frame in frames:  # newest first: the first event seen per entity is its state
        entities.setdefault(entity_of(frame), frame)
    return {
        "source": source,
        "event_count": count,
        "entities": [
            {
                "entity": name,
                "state": state_of(frame),
                "event_type": frame.event_type,
                "event_id": frame.event_id,
                "time": iso_utc(frame.received_at),
                "summary": frame.summary,
            }
            for name, frame in entities.items()
        ],
        "latest_events": [
            {
                "event_id": f.event_id,
                "event_type": f.event_type,
                "time": iso_utc(f.received_at),
                "summary": f.summary,
                "owner": f.owner,
                "repo": f.repo,
            }
            for f in frames[:recent_n]
        ],
        "entities_from_last_n_events": len(frames),
    }

"""What an event is about (its entity), its state and whether it is a failure; and
reading the log without writing to it.

An entity is the thing whose newest event is its current state: a GitHub run or job
(`run_id`/`job_id`), a docker container, a pytest session (`rootdir`), a watched fs
path, an agent conversation (`msg_thread`); anything else is keyed by its
source and event type. `replay --coalesce`, `top` and `events analyze` share it.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ._render import CliError

if TYPE_CHECKING:
    from waitbus_store import Row, Store
    from waitbus_wire import EventFrame, Predicate

# source -> (entity kind, the fields that name one, most specific first)
_ENTITY_FIELDS: dict[str, tuple[tuple[str, tuple[str, ...]], ...]] = {
    "github": (("ci job", ("job_id",)), ("ci run", ("run_id",))),
    "docker": (("container", ("container_id", "container", "container_name", "name", "id")),),
    "pytest": (("test session", ("rootdir",)),),
    "fs": (("path", ("path",)),),
    "agent": (("agent thread", ("msg_thread",)),),
}
_STATE_FIELDS = ("conclusion", "outcome", "status", "state", "action", "change", "result")
_FAILED_VALUES = frozenset(
    {"failure", "failed", "error", "errored", "cancelled", "timed_out", "startup_failure", "interrupted", "unhealthy"}
)
COLUMNS = "seq, event_id, source, event_type, owner, repo, received_at, delivery_id, summary, fields"


def entity_of(source: str, event_type: str, fields: Mapping[str, Any]) -> tuple[str, str]:
    """(kind, name) of the entity an event is about."""
    for kind, keys in _ENTITY_FIELDS.get(source, ()):
        for key in keys:
            value = fields.get(key)
            if value is not None and value != "" and not isinstance(value, dict | list):
                return kind, str(value)
    return "event", f"{source}/{event_type}"


def entity_key(e: EventFrame) -> str:
    kind, name = entity_of(e.source, e.event_type, e.fields)
    return f"{e.source}|{kind}|{name}"


def state_of(e: EventFrame) -> str:
    """A short word for the entity's state after this event."""
    f = e.fields
    if e.source == "github" and f.get("conclusion") is None and f.get("status"):
        return str(f["status"])  # a run in progress has a null conclusion
    if e.source == "agent" and "msg_from" in f:
        return f"{f.get('msg_from')} -> {f.get('msg_to')}" + (" (reply)" if f.get("msg_reply_to") else "")
    for key in _STATE_FIELDS:
        value = f.get(key)
        if value is not None and not isinstance(value, dict | list):
            code = f.get("exit_code")
            return f"{value} (exit {code})" if key == "action" and code is not None else str(value)
    return e.event_type


def is_failure(source: str, fields: Mapping[str, Any]) -> bool:
    """True for a failed/cancelled run, a failed test session, a container that died
    non-zero or ran out of memory, and the like."""
    for key in ("conclusion", "outcome", "status", "state", "result", "health_status"):
        value = fields.get(key)
        if isinstance(value, str) and value.lower() in _FAILED_VALUES:
            return True
    action = fields.get("action")
    if action == "oom":
        return True
    code = fields.get("exit_code")
    if action == "die" and isinstance(code, int) and not isinstance(code, bool) and code != 0:
        return True
    failed = fields.get("failed")
    return source == "pytest" and isinstance(failed, int) and not isinstance(failed, bool) and failed > 0


# -- filters ---------------------------------------------------------------------


class Filter:
    """`--source` (done in SQL) and `--match` specs (the wire grammar, on the frame)."""

    def __init__(self, source: str | None, match: Sequence[str] | None) -> None:
        from waitbus_wire import parse_predicate

        self.source = source
        self.specs = list(match or [])
        self.predicate: Predicate | None = parse_predicate(self.specs) if self.specs else None

    def sql(self) -> tuple[str, list[Any]]:
        return ("AND source = ?", [self.source]) if self.source else ("", [])

    def wants(self, frame: EventFrame) -> bool:
        return self.predicate is None or self.predicate.matches(frame)


def parse_since(text: str) -> tuple[str | None, int | None]:
    """`--since`: an event id (returned as is) or a duration back from now
    (returned as a received_at cutoff in ns). ValueError says the format."""
    from waitbus_wire import is_ulid

    if is_ulid(text):
        return text, None
    from waitbus_wire import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(f"--since {text!r} is neither an event id (26-char ULID) nor a duration like 1h") from None
    return None, time.time_ns() - int(seconds * 1e9)


def cutoff_cursor(cutoff_ns: int) -> str:
    """The commit-order cursor meaning 'events from this time on'."""
    from waitbus_wire import ulid_floor

    return ulid_floor(cutoff_ns // 1_000_000)


# -- reading the log -------------------------------------------------------------


def open_log(*, missing_ok: bool) -> sqlite3.Connection | None:
    """A read-only connection to the log; None if there is no log yet (and
    `missing_ok`). A foreign, corrupt or too-new file is a CliError (exit 2)."""
    from waitbus_store import StoreError, connect_readonly, resolve_paths, schema_status

    db = resolve_paths().db
    if not db.exists():
        if missing_ok:
            return None
        raise CliError(f"no event store at {db}; run `waitbus init` or emit an event first")
    try:
        on_disk, _ = schema_status(db)
        if on_disk == 0:  # ours, but no table yet
            if missing_ok:
                return None
            raise CliError(f"the event store at {db} is empty (no schema yet); run `waitbus db migrate`")
        return connect_readonly(db)
    except StoreError as exc:
        raise CliError(str(exc)) from None


def seq_after(conn: sqlite3.Connection, cursor: str) -> int:
    """The seq a commit-order read starts after: the newest event at or before the
    cursor id (which need not be stored, e.g. a time floor)."""
    row = conn.execute(
        "SELECT seq FROM events WHERE event_id <= ? ORDER BY event_id DESC LIMIT 1", (cursor,)
    ).fetchone()
    return int(row[0]) if row else 0


def head(conn: sqlite3.Connection) -> tuple[int, str] | None:
    row = conn.execute("SELECT seq, event_id FROM events ORDER BY seq DESC LIMIT 1").fetchone()
    return (int(row[0]), str(row[1])) if row else None


def read_forward(
    conn: sqlite3.Connection,
    *,
    after: int,
    upto: int,
    flt: Filter,
    cutoff_ns: int | None = None,
    batch: int = 1000,
) -> Iterator[tuple[Row, EventFrame | None]]:
    """Rows with after < seq <= upto in commit order, each with its frame when the
    filter wants it (None when it does not: callers still see it, for cursors)."""
    from waitbus_store import Row

    extra, params = flt.sql()
    if cutoff_ns is not None:
        extra += " AND received_at >= ?"
        params = [*params, cutoff_ns]
    query = f"SELECT {COLUMNS} FROM events WHERE seq > ? AND seq <= ? {extra} ORDER BY seq LIMIT ?"
    while True:
        rows = conn.execute(query, (after, upto, *params, batch)).fetchall()
        if not rows:
            return
        for raw in rows:
            row = Row._make(raw)
            frame = row.to_frame()
            yield row, (frame if flt.wants(frame) else None)
        after = int(rows[-1][0])


def count_range(conn: sqlite3.Connection, after: int, upto: int, flt: Filter) -> int:
    extra, params = flt.sql()
    query = f"SELECT count(*) FROM events WHERE seq > ? AND seq <= ? {extra}"
    return int(conn.execute(query, (after, upto, *params)).fetchone()[0])


def open_store() -> Store:
    """The read-write store (bookmarks, prune, migrate). A foreign, corrupt or
    too-new file is exit 2; a store that cannot be opened for writing is exit 4."""
    from waitbus_store import PathError, Store, StoreError, resolve_paths, schema_status

    db = resolve_paths().db
    try:
        if db.exists():
            schema_status(db)
    except StoreError as exc:
        raise CliError(str(exc), 2) from None
    try:
        return Store(db)
    except (StoreError, PathError) as exc:
        raise CliError(str(exc), 4) from None

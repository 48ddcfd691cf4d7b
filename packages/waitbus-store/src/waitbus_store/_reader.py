"""Reading the log without writing it: every query on the events table that the CLI,
the MCP server and the sources need, so that only this package writes SQL on it.

Events come back as EventFrames made by `Row.to_frame`, the one converter. Every
read raises StoreError (with the store's advice) when the file cannot be read, for
example a damaged page, never sqlite3's own errors.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, NamedTuple

from ._row import Row
from ._schema import SchemaError, check_ours, current_version
from ._store import _COLUMNS, StoreError, _explain, _Handle, connect_readonly

if TYPE_CHECKING:
    from waitbus_wire import EventFrame

    from ._entity import EntityKeys, EntityState


class TypeSummary(NamedTuple):
    """Events of one (source, event_type): how many, first and last received_at (ns)."""

    source: str
    event_type: str
    events: int
    first_ns: int
    last_ns: int


class Reader(_Handle):
    """A read-only handle on the log (opened `mode=ro` with `query_only`): it cannot
    write, hold the write lock, or create files. Not thread-safe: one per thread."""

    def __init__(self, path: str, conn: sqlite3.Connection, schema_version: int) -> None:
        self.path = path
        self._conn = conn
        self.schema_version = schema_version

    @property
    def connection(self) -> sqlite3.Connection:
        """The read-only connection, for the user's own SQL (`waitbus events query`)
        only: every other query on the log belongs in this class."""
        return self._conn

    # -- single values ---------------------------------------------------------

    def count(self, *, source: str | None = None, after: int = 0, upto: int | None = None) -> int:
        """Events (of `source`) with after < seq <= upto."""
        where, args = _where(after=after, upto=upto, source=source)
        row = self._first(f"SELECT count(*) FROM events WHERE {where}", args)
        return int(row[0]) if row else 0

    def get(self, event_id: str) -> tuple[EventFrame, bytes | None] | None:
        """One event and its raw payload, by id."""
        found = self._stored(event_id)
        return (found[0].to_frame(), found[1]) if found else None

    def first(self) -> EventFrame | None:
        row = self._first(f"SELECT {_COLUMNS} FROM events ORDER BY seq LIMIT 1")
        return Row._make(row).to_frame() if row else None

    def last(self) -> EventFrame | None:
        row = self._first(f"SELECT {_COLUMNS} FROM events ORDER BY seq DESC LIMIT 1")
        return Row._make(row).to_frame() if row else None

    # -- many events -----------------------------------------------------------

    def scan(
        self,
        after: int = 0,
        *,
        upto: int | None = None,
        source: str | None = None,
        event_types: Sequence[str] = (),
        since_ns: int | None = None,
        batch: int = 1000,
    ) -> Iterator[tuple[int, EventFrame]]:
        """(seq, frame) of each event with after < seq <= upto, in commit order."""
        where, args = _where(upto=upto, source=source, event_types=event_types, since_ns=since_ns)
        return self._walk(where, args, "seq > ?", "ASC", after, batch)

    def recent(
        self,
        *,
        source: str | None = None,
        event_type: str | None = None,
        after_id: str | None = None,
        since_ns: int | None = None,
        batch: int = 500,
    ) -> Iterator[tuple[int, EventFrame]]:
        """(seq, frame) of each event, newest first (stop iterating to stop reading):
        only `source`/`event_type`, committed after the event id `after_id`, received
        at or after `since_ns`."""
        types = (event_type,) if event_type is not None else ()
        where, args = _where(source=source, event_types=types, since_ns=since_ns, after_id=after_id)
        return self._walk(where, args, "seq < ?", "DESC", 1 << 62, batch)

    def _walk(
        self, where: str, args: list[object], step: str, order: str, cursor: int, batch: int
    ) -> Iterator[tuple[int, EventFrame]]:
        """Rows matching `where`, `batch` at a time, each batch starting past the last."""
        query = f"SELECT {_COLUMNS} FROM events WHERE {where} AND {step} ORDER BY seq {order} LIMIT ?"
        while True:
            rows = self._all(query, [*args, cursor, batch])
            for raw in rows:
                row = Row._make(raw)
                yield row.seq, row.to_frame()
            if len(rows) < batch:
                return
            cursor = int(rows[-1][0])

    # -- summaries -------------------------------------------------------------

    def by_type(self) -> list[TypeSummary]:
        """One line per (source, event_type), most events first."""
        rows = self._all(
            "SELECT source, event_type, count(*), min(received_at), max(received_at) FROM events "
            "GROUP BY source, event_type ORDER BY count(*) DESC, source, event_type"
        )
        return [TypeSummary(str(s), str(t), int(n), int(a), int(b)) for s, t, n, a, b in rows]

    def by_source(self) -> list[tuple[str, int]]:
        """(source, events) for every source, by name."""
        rows = self._all("SELECT source, count(*) FROM events GROUP BY source ORDER BY source")
        return [(str(s), int(n)) for s, n in rows]

    def arrivals(self, per_source: int = 200) -> dict[str, list[int]]:
        """Each source's newest `per_source` events' received_at (ns), oldest first:
        what a silence detector learns a source's usual rhythm from."""
        rows = self._all(
            "SELECT source, received_at FROM (SELECT source, received_at, "
            "row_number() OVER (PARTITION BY source ORDER BY seq DESC) AS n FROM events) "
            "WHERE n <= ? ORDER BY source, received_at",
            (per_source,),
        )
        out: dict[str, list[int]] = {}
        for source, at in rows:
            out.setdefault(str(source), []).append(int(at))
        return out

    def entities(
        self, *, source: str | None = None, last: int = 500, keys: EntityKeys | None = None
    ) -> list[EntityState]:
        """The newest state per entity among the `last` newest events (of `source`),
        newest first: the same fold as `waitbus top`."""
        from itertools import islice

        from ._entity import EntityBoard

        board = EntityBoard(keys)
        newest = [frame for _, frame in islice(self.recent(source=source), last)]
        for frame in reversed(newest):
            board.fold(frame)
        return board.newest_first()

    def bookmarks(self) -> dict[str, str]:
        if self.schema_version < 2:
            return {}
        return {str(n): str(e) for n, e in self._all("SELECT name, event_id FROM bookmarks ORDER BY name")}

    def integrity_check(self, *, quick: bool = False) -> list[str]:
        """SQLite's integrity check: [] when the file is sound, else up to 20 problems.
        Reads every page; `quick` skips matching the indexes against the table (O(N)
        instead of O(N log N))."""
        pragma = "quick_check" if quick else "integrity_check"
        problems = [str(r[0]) for r in self._all(f"PRAGMA {pragma}(20)")]
        return [] if problems == ["ok"] else problems


def _where(
    *,
    after: int | None = None,
    upto: int | None = None,
    source: str | None = None,
    event_types: Sequence[str] = (),
    since_ns: int | None = None,
    after_id: str | None = None,
) -> tuple[str, list[object]]:
    given = [
        (clause, value)
        for clause, value in (
            ("seq > ?", after),
            ("seq <= ?", upto),
            ("source = ?", source),
            ("received_at >= ?", since_ns),
            ("event_id > ?", after_id),
        )
        if value is not None
    ]
    clauses = ["1 = 1", *(clause for clause, _ in given)]
    args: list[object] = [value for _, value in given]
    if event_types:
        clauses.append(f"event_type IN ({','.join('?' * len(event_types))})")
        args.extend(event_types)
    return " AND ".join(clauses), args


def open_reader(path: str | os.PathLike[str] | None = None) -> Reader | None:
    """A Reader on the log at `path` (default: this user's log), or None when there is
    no log yet (no file, or a file with no schema yet). A foreign, corrupt or too-new
    file raises StoreError saying what to do."""
    if path is None:
        from ._dirs import DB_NAME, state_dir

        path = os.path.join(state_dir(), DB_NAME)
    path = os.fspath(path)
    if not os.path.exists(path):
        return None
    conn = connect_readonly(path)
    try:
        check_ours(conn, path)
        version = current_version(conn)
    except SchemaError as exc:
        conn.close()
        raise StoreError(str(exc)) from None
    except sqlite3.Error as exc:
        conn.close()
        raise _explain(exc, path) from None
    if version == 0:  # ours, but not migrated yet: no events
        conn.close()
        return None
    return Reader(path, conn, version)

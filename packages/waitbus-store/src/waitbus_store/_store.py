"""The event log: one SQLite file in WAL mode, shared by every process of the user.

Writers hold the write lock only for one short transaction (BEGIN IMMEDIATE, one
INSERT, COMMIT) and wait on a busy timeout, so many producer processes all succeed.
Inside that transaction the new event_id is made strictly greater than the newest
stored one, so ULID order equals commit (`seq`) order across all processes: a cursor
is just an event_id, and "at or before caught_up_at" is a string comparison.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections import namedtuple

from waitbus_wire import next_ulid

from ._errors import StoreBaseError
from ._schema import SCHEMA_VERSION, SchemaError, check_ours, current_version, migrate

# Every producer process imports this module: it loads neither typing nor pathlib.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, NamedTuple, Self

    from ._row import Row

BUSY_TIMEOUT_S = 10.0
PRODUCER_AUTOCHECKPOINT_PAGES = 10_000
_COLUMNS = "seq, event_id, source, event_type, owner, repo, received_at, delivery_id, summary, fields"


class StoreError(StoreBaseError):
    """The log could not be opened or written; the message says what to do."""


if TYPE_CHECKING:

    class InsertResult(NamedTuple):
        event_id: str
        seq: int
        inserted: bool
        row: tuple[Any, ...] | None = None  # the committed row's values in Row's order; None if not inserted

else:
    InsertResult = namedtuple("InsertResult", ["event_id", "seq", "inserted", "row"], defaults=(None,), module=__name__)


def explain(exc: sqlite3.Error, path: str) -> StoreError:
    """The store's advice for a sqlite3 error on the log at `path`, as a StoreError."""
    text = str(exc)
    if "full" in text:
        return StoreError(
            f"cannot write {path}: disk or database is full ({text}); run `waitbus db prune` (it works on a full"
            " disk: it uses the space the log keeps in reserve) or free space"
        )
    if "locked" in text or "busy" in text:
        return StoreError(f"{path} stayed locked for {BUSY_TIMEOUT_S:.0f}s by another writer ({text}); retry")
    if "readonly" in text or "unable to open" in text:
        return StoreError(f"cannot write {path} ({text}); check the state dir's permissions")
    if "malformed" in text or "not a database" in text:
        return StoreError(f"{path} is corrupt or not a SQLite file ({text}); move it away and run `waitbus init`")
    return StoreError(f"{path}: {text}")


_explain = explain


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL. SQLite answers SQLITE_BUSY at once here, without the busy
    timeout, when processes open a new file together: retry for as long."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.002)


class _Handle:
    """A connection to the log and the plumbing every handle shares: reads that raise
    StoreError with the store's advice, never sqlite3's errors."""

    path: str
    _conn: sqlite3.Connection

    def _all(self, sql: str, args: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._conn.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise _explain(exc, self.path) from None

    def _first(self, sql: str, args: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self._all(sql, args)
        return rows[0] if rows else None

    def head(self) -> tuple[int, str] | None:
        """(seq, event_id) of the newest event, or None for an empty log."""
        row = self._first("SELECT seq, event_id FROM events ORDER BY seq DESC LIMIT 1")
        return (int(row[0]), str(row[1])) if row else None

    def seq_at_or_before(self, event_id: str) -> int:
        """The seq of the newest event whose id sorts at or before `event_id` (0 if
        none). Works for ids that were never stored, e.g. a time floor."""
        row = self._first("SELECT seq FROM events WHERE event_id <= ? ORDER BY event_id DESC LIMIT 1", (event_id,))
        return int(row[0]) if row else 0

    def _stored(self, event_id: str) -> tuple[Row, bytes | None] | None:
        row = self._first(f"SELECT {_COLUMNS}, payload FROM events WHERE event_id = ?", (event_id,))
        if row is None:
            return None
        from ._row import Row

        payload = row[-1]
        return Row._make(row[:-1]), (bytes(payload) if payload is not None else None)

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Store(_Handle):
    """A read-write handle on the log. Not thread-safe: one per thread/process."""

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = str(path)
        if not create and not os.path.exists(self.path):
            raise StoreError(f"no event store at {self.path}; run `waitbus init` or emit an event first")
        try:
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), mode=0o700, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from None
        self._conn = conn
        try:
            # Refuse a foreign or too-new file before touching it (no chmod, no WAL switch).
            check_ours(conn, self.path)
            if current_version(conn) == 0:
                # Must precede the WAL switch, or a new file keeps auto_vacuum=NONE.
                conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
            os.chmod(self.path, 0o600)
            _enable_wal(conn)
            # NORMAL in WAL survives any process crash (kill -9); only an OS crash or
            # power cut can lose the last commits. FULL costs an fsync per event.
            conn.execute("PRAGMA synchronous = NORMAL")
            # Checkpoints are the hub's job (Store.checkpoint, off the producers' path);
            # this higher limit is only the safety net for when no hub runs.
            conn.execute(f"PRAGMA wal_autocheckpoint = {PRODUCER_AUTOCHECKPOINT_PAGES}")
            self.schema_before, self.schema_version = migrate(conn, self.path)
            if self.schema_before == 0:  # a new log: keep space back for `waitbus db prune`
                from ._reserve import ensure_reserve

                ensure_reserve(self.path)
        except SchemaError as exc:
            conn.close()
            raise StoreError(str(exc)) from None
        except sqlite3.Error as exc:
            conn.close()
            raise _explain(exc, self.path) from None

    # -- writing ---------------------------------------------------------------

    def insert(
        self,
        *,
        source: str,
        event_type: str,
        fields: bytes,
        payload: bytes | None = None,
        delivery_id: str | None = None,
        owner: str | None = None,
        repo: str | None = None,
        summary: str = "",
        received_at: int | None = None,
    ) -> InsertResult:
        """Append one event unless (source, delivery_id) is already stored.

        Inputs are trusted to be validated (waitbus_wire.encode_fields etc.).
        """
        conn = self._conn
        now = time.time_ns() if received_at is None else received_at
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                last = conn.execute("SELECT event_id FROM events ORDER BY seq DESC LIMIT 1").fetchone()
                event_id = next_ulid(last[0] if last else None, now // 1_000_000)
                # In Row's column order, so the committed row needs no re-arranging.
                values = (event_id, source, event_type, owner, repo, now, delivery_id or event_id)
                text = fields.decode()
                cur = conn.execute(
                    "INSERT OR IGNORE INTO events (event_id, source, event_type, owner, repo, received_at,"
                    " delivery_id, summary, fields, payload) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (*values, summary, text, payload),
                )
                if cur.rowcount == 1:
                    seq = int(cur.lastrowid or 0)
                    row = (seq, *values, summary, text)
                    result = InsertResult(event_id, seq, True, row)
                else:
                    seq, existing = conn.execute(
                        "SELECT seq, event_id FROM events WHERE source = ? AND delivery_id = ?", (source, delivery_id)
                    ).fetchone()
                    result = InsertResult(existing, seq, False, None)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            raise _explain(exc, self.path) from None
        return result

    # -- reading ---------------------------------------------------------------
    # Every read raises StoreError, not sqlite3's errors, when the file cannot be read
    # (a corrupt page, an I/O error): callers report it with the store's advice.

    def read_after(self, seq: int, limit: int = 1000, *, upto: int | None = None) -> list[Row]:
        """Events with seq > `seq` (and <= `upto`), in commit order."""
        if upto is None:
            rows = self._all(f"SELECT {_COLUMNS} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit))
        else:
            rows = self._all(
                f"SELECT {_COLUMNS} FROM events WHERE seq > ? AND seq <= ? ORDER BY seq LIMIT ?", (seq, upto, limit)
            )
        from ._row import Row

        return [Row._make(r) for r in rows]

    def get(self, event_id: str) -> tuple[Row, bytes | None] | None:
        """One event and its raw payload, by id."""
        return self._stored(event_id)

    def checkpoint(self) -> None:
        """Copy the WAL back into the database without blocking writers (PASSIVE)."""
        try:
            self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.Error as exc:
            raise _explain(exc, self.path) from None

    def count(self) -> int:
        row = self._first("SELECT count(*) FROM events")
        return int(row[0]) if row else 0

    def size_bytes(self) -> int:
        """Bytes the main database file uses (pages in use, not the WAL)."""
        pages = self._conn.execute("PRAGMA page_count").fetchone()[0]
        free = self._conn.execute("PRAGMA freelist_count").fetchone()[0]
        size = self._conn.execute("PRAGMA page_size").fetchone()[0]
        return int((pages - free) * size)

    # -- bookmarks -------------------------------------------------------------

    def get_bookmark(self, name: str) -> str | None:
        row = self._conn.execute("SELECT event_id FROM bookmarks WHERE name = ?", (name,)).fetchone()
        return str(row[0]) if row else None

    def set_bookmark(self, name: str, event_id: str) -> None:
        try:
            self._conn.execute(
                "INSERT INTO bookmarks (name, event_id, updated_at) VALUES (?,?,?) "
                "ON CONFLICT(name) DO UPDATE SET event_id = excluded.event_id, updated_at = excluded.updated_at",
                (name, event_id, time.time_ns()),
            )
        except sqlite3.Error as exc:
            raise _explain(exc, self.path) from None

    # -- housekeeping ----------------------------------------------------------


def schema_status(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(version on disk, version this code wants) without changing the file."""
    conn = connect_readonly(path)
    try:
        check_ours(conn, str(path))
        return current_version(conn), SCHEMA_VERSION
    except SchemaError as exc:
        raise StoreError(str(exc)) from None
    except sqlite3.Error as exc:
        raise _explain(exc, str(path)) from None
    finally:
        conn.close()


def connect_readonly(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection that cannot write: opened read-only and with query_only set,
    for user-supplied SQL (`waitbus events query`)."""
    if not os.path.exists(path):
        raise StoreError(f"no event store at {path}; run `waitbus init` or emit an event first")
    try:
        conn = sqlite3.connect(f"{_file_uri(path)}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_S)
        conn.execute("PRAGMA query_only = ON")
        # SQL can turn query_only off again; mode=ro covers only the main file, so also
        # forbid ATTACH and VACUUM INTO, which would create or write other files.
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    except sqlite3.Error as exc:
        raise _explain(exc, str(path)) from None
    return conn


def _file_uri(path: str | os.PathLike[str]) -> str:
    from pathlib import Path  # readers only: producers never come here

    return Path(path).resolve().as_uri()

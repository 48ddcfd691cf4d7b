"""Schema migrations, applied in order and recorded in PRAGMA user_version.

Each migration runs in one transaction with its version bump, so a crash leaves the
file at the old version or the new one, never between. Never edit a released step:
append a new one. The table shape is a user contract (docs/store.md).
"""

from __future__ import annotations

import sqlite3

from ._errors import StoreBaseError

# "WBUS": marks the file as ours so a foreign SQLite file is refused, not altered.
APPLICATION_ID = 0x57425553

MIGRATIONS: tuple[str, ...] = (
    # 1: the event log.
    """
    CREATE TABLE events (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id    TEXT    NOT NULL UNIQUE,
        source      TEXT    NOT NULL,
        event_type  TEXT    NOT NULL,
        delivery_id TEXT    NOT NULL,
        owner       TEXT,
        repo        TEXT,
        received_at INTEGER NOT NULL,
        summary     TEXT    NOT NULL DEFAULT '',
        fields      TEXT    NOT NULL,
        payload     BLOB,
        UNIQUE (source, delivery_id)
    );
    CREATE INDEX events_received_at ON events (received_at);
    CREATE INDEX events_source_type ON events (source, event_type, seq);
    """,
    # 2: named replay cursors (`waitbus replay --bookmark NAME`).
    """
    CREATE TABLE bookmarks (
        name       TEXT    PRIMARY KEY,
        event_id   TEXT    NOT NULL,
        updated_at INTEGER NOT NULL
    );
    """,
    # 3: this bus's identity (bridges tell buses apart by it; host names can repeat).
    # Made by SQLite's own CSPRNG inside the migration, so every log gets one, once.
    """
    CREATE TABLE bus (
        id TEXT NOT NULL PRIMARY KEY CHECK (length(id) = 32)
    );
    INSERT INTO bus (id) VALUES (lower(hex(randomblob(16))));
    """,
)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(StoreBaseError):
    """The file is not a waitbus store, or is newer than this code."""


def current_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_ours(conn: sqlite3.Connection, path: str) -> None:
    # One statement, so one snapshot: read apart, another process's first migration
    # could commit in between and make our own new file look foreign.
    app_id, version, has_tables = conn.execute(
        "SELECT (SELECT application_id FROM pragma_application_id()),"
        " (SELECT user_version FROM pragma_user_version()),"
        " (SELECT count(*) FROM sqlite_master)"
    ).fetchone()
    if app_id == APPLICATION_ID:
        if version > SCHEMA_VERSION:
            raise SchemaError(
                f"{path} has schema version {version}, newer than this waitbus ({SCHEMA_VERSION}); upgrade waitbus"
            )
        return
    if app_id != 0 or has_tables:
        raise SchemaError(
            f"{path} is not a waitbus event store (application_id={app_id:#x}); "
            "point WAITBUS_STATE_DIR elsewhere or move the file away"
        )


def migrate(conn: sqlite3.Connection, path: str) -> tuple[int, int]:
    """Apply pending migrations; return (version before, version after). Idempotent."""
    check_ours(conn, path)
    before = current_version(conn)
    if before == 0:
        # Must precede the first table to take effect; lets prune give space back.
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
    for version in range(before + 1, SCHEMA_VERSION + 1):
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have migrated first.
            if current_version(conn) >= version:
                conn.execute("ROLLBACK")
                continue
            for statement in MIGRATIONS[version - 1].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            conn.execute(f"PRAGMA user_version = {version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return before, current_version(conn)

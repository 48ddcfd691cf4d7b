"""Opening, migrating and refusing files that are not ours."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

import pytest

from waitbus_store import APPLICATION_ID, SCHEMA_VERSION, Store, StoreError, bus_id, schema_status
from waitbus_store._schema import MIGRATIONS

EVENTS_COLUMNS = [
    # name, declared type, NOT NULL, default, primary key
    ("seq", "INTEGER", 0, None, 1),
    ("event_id", "TEXT", 1, None, 0),
    ("source", "TEXT", 1, None, 0),
    ("event_type", "TEXT", 1, None, 0),
    ("delivery_id", "TEXT", 1, None, 0),
    ("owner", "TEXT", 0, None, 0),
    ("repo", "TEXT", 0, None, 0),
    ("received_at", "INTEGER", 1, None, 0),
    ("summary", "TEXT", 1, "''", 0),
    ("fields", "TEXT", 1, None, 0),
    ("payload", "BLOB", 0, None, 0),
]
BOOKMARKS_COLUMNS = [
    ("name", "TEXT", 0, None, 1),
    ("event_id", "TEXT", 1, None, 0),
    ("updated_at", "INTEGER", 1, None, 0),
]


def pragma(path: Path, name: str) -> object:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        conn.close()


def snapshot(path: Path) -> tuple[bytes, int, list[str]]:
    return path.read_bytes(), stat.S_IMODE(path.stat().st_mode), sorted(os.listdir(path.parent))


def test_fresh_file_reaches_schema_version(db_path: Path) -> None:
    assert SCHEMA_VERSION == len(MIGRATIONS) == 3
    with Store(db_path) as s:
        assert (s.schema_before, s.schema_version) == (0, SCHEMA_VERSION)
        conn = s.connection
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID == 0x57425553
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # INCREMENTAL
    assert stat.S_IMODE(db_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(db_path.parent.stat().st_mode) == 0o700


def test_table_shape_is_the_documented_contract(store: Store) -> None:
    conn = store.connection
    assert [tuple(r[1:]) for r in conn.execute("PRAGMA table_info(events)")] == EVENTS_COLUMNS
    assert [tuple(r[1:]) for r in conn.execute("PRAGMA table_info(bookmarks)")] == BOOKMARKS_COLUMNS
    indexes = {r[0]: r[1] for r in conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'")}
    assert "events_received_at" in indexes
    assert "events_source_type" in indexes
    uniques = [
        [c[2] for c in conn.execute(f"PRAGMA index_info('{r[1]}')")]
        for r in conn.execute("PRAGMA index_list(events)")
        if r[2]
    ]
    assert sorted(uniques) == [["event_id"], ["source", "delivery_id"]]
    autoinc = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    assert "AUTOINCREMENT" in autoinc


def test_every_log_gets_its_own_stable_bus_id(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "events.db", tmp_path / "b" / "events.db"
    first = bus_id(a)
    assert len(first) == 32 and int(first, 16) >= 0
    assert bus_id(a) == first  # stable across opens
    with Store(a) as s:
        s.insert(source="x", event_type="y", fields=b"{}")
        assert s.connection.execute("SELECT count(*) FROM bus").fetchone()[0] == 1
    assert bus_id(a) == first
    assert bus_id(b) != first  # a second log on the same host is another bus


def test_reopen_is_idempotent(db_path: Path) -> None:
    with Store(db_path) as s:
        s.insert(source="a", event_type="b", fields=b"{}", delivery_id="d")
    for _ in range(2):
        with Store(db_path) as s:
            assert (s.schema_before, s.schema_version) == (SCHEMA_VERSION, SCHEMA_VERSION)
            assert s.count() == 1
    assert schema_status(db_path) == (SCHEMA_VERSION, SCHEMA_VERSION)


def test_older_file_is_migrated_forward_keeping_rows(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.executescript(MIGRATIONS[0])
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO events (event_id, source, event_type, delivery_id, received_at, fields)"
        " VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 's', 't', 'd', 1, '{}')"
    )
    conn.close()
    assert schema_status(db_path) == (1, SCHEMA_VERSION)
    with Store(db_path) as s:
        assert (s.schema_before, s.schema_version) == (1, SCHEMA_VERSION)
        assert s.count() == 1
        s.set_bookmark("b", "01ARZ3NDEKTSV4RRFFQ69G5FAV")  # table from migration 2
        assert s.get_bookmark("b") == "01ARZ3NDEKTSV4RRFFQ69G5FAV"
    assert len(bus_id(db_path)) == 32  # migration 3 gave the old log an identity


def test_empty_existing_file_is_treated_as_new(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.touch()
    assert schema_status(db_path) == (0, SCHEMA_VERSION)
    with Store(db_path) as s:
        assert s.schema_version == SCHEMA_VERSION


def test_foreign_sqlite_file_is_refused_and_left_unmodified(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO customers (name) VALUES ('ada')")
    conn.commit()
    conn.close()
    db_path.chmod(0o644)
    before = snapshot(db_path)
    with pytest.raises(StoreError) as info:
        Store(db_path)
    msg = str(info.value)
    assert str(db_path) in msg
    assert "is not a waitbus event store" in msg
    assert "WAITBUS_STATE_DIR" in msg
    assert snapshot(db_path) == before  # same bytes, same mode, no -wal/-shm files
    with pytest.raises(StoreError, match="not a waitbus event store"):
        schema_status(db_path)
    assert snapshot(db_path) == before


def test_foreign_application_id_is_refused_even_without_tables(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA application_id = 1234")
    conn.close()
    before = snapshot(db_path)
    with pytest.raises(StoreError, match=r"application_id=0x4d2"):
        Store(db_path)
    assert snapshot(db_path) == before


def test_newer_schema_is_refused(db_path: Path) -> None:
    Store(db_path).close()
    conn = sqlite3.connect(db_path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = db_path.read_bytes()
    with pytest.raises(StoreError) as info:
        Store(db_path)
    msg = str(info.value)
    assert str(db_path) in msg
    assert f"schema version {SCHEMA_VERSION + 1}, newer than this waitbus ({SCHEMA_VERSION})" in msg
    assert "upgrade waitbus" in msg
    assert db_path.read_bytes() == before
    with pytest.raises(StoreError, match="newer than this waitbus"):
        schema_status(db_path)


def test_garbage_file_gives_a_clear_error(db_path: Path) -> None:
    db_path.parent.mkdir(parents=True)
    db_path.write_bytes(b"this is not a database, just text\n" * 200)
    before = snapshot(db_path)
    with pytest.raises(StoreError) as info:
        Store(db_path)
    msg = str(info.value)
    assert str(db_path) in msg
    assert "corrupt or not a SQLite file" in msg
    assert "move it away" in msg
    assert snapshot(db_path) == before
    with pytest.raises(StoreError, match="corrupt or not a SQLite file"):
        schema_status(db_path)


def test_missing_file_with_create_false(db_path: Path) -> None:
    with pytest.raises(StoreError, match=r"no event store at .*events\.db; run `waitbus init`"):
        Store(db_path, create=False)
    assert not db_path.exists()
    with pytest.raises(StoreError, match="no event store"):
        schema_status(db_path)


def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open"):
        Store(blocker / "events.db")  # parent is a regular file

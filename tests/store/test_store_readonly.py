"""connect_readonly: the gate for user-supplied SQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from waitbus_store import SCHEMA_VERSION, Store, StoreError, connect_readonly


@pytest.fixture
def filled(db_path: Path) -> Path:
    with Store(db_path) as s:
        for i in range(3):
            s.insert(source="s", event_type="t", fields=b'{"source":"s","event_type":"t"}', delivery_id=str(i))
    return db_path


def test_reads_work(filled: Path) -> None:
    conn = connect_readonly(filled)
    try:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 3
        assert conn.execute("SELECT json_extract(fields, '$.source') FROM events LIMIT 1").fetchone()[0] == "s"
    finally:
        conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO bookmarks (name, event_id, updated_at) VALUES ('x', 'y', 1)",
        "DELETE FROM events",
        "UPDATE events SET summary = 'x'",
        "DROP TABLE events",
        "CREATE TABLE t (x)",
        "PRAGMA user_version = 99",
    ],
)
def test_writes_are_refused(filled: Path, sql: str) -> None:
    conn = connect_readonly(filled)
    try:
        with pytest.raises(sqlite3.OperationalError):
            conn.execute(sql)
    finally:
        conn.close()
    with Store(filled) as s:
        assert s.count() == 3
        assert s.get_bookmark("x") is None
        assert s.schema_version == SCHEMA_VERSION


def test_turning_query_only_off_does_not_allow_writes(filled: Path) -> None:
    conn = connect_readonly(filled)
    try:
        conn.execute("PRAGMA query_only = OFF")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            conn.execute("DELETE FROM events")
    finally:
        conn.close()


@pytest.mark.parametrize("sql", ["ATTACH DATABASE '{other}' AS x", "VACUUM INTO '{other}'"])
def test_no_other_file_can_be_written(filled: Path, sql: str) -> None:
    other = filled.parent / "other.db"
    conn = connect_readonly(filled)
    try:
        conn.execute("PRAGMA query_only = OFF")
        with pytest.raises(sqlite3.OperationalError):
            conn.execute(sql.format(other=other))
    finally:
        conn.close()
    assert not other.exists()


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.db"
    with pytest.raises(StoreError, match="no event store at"):
        connect_readonly(missing)
    assert not missing.exists()


def test_path_with_uri_special_characters(tmp_path: Path) -> None:
    odd = tmp_path / "we?ird #dir%20" / "events.db"
    Store(odd).close()
    conn = connect_readonly(odd)
    try:
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    finally:
        conn.close()

"""The read-only Reader: every query a consumer needs, on a real SQLite file."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import pytest

from waitbus_store import InsertResult, Store, StoreError, TypeSummary, entity_of, open_reader
from waitbus_wire import EventFrame

Insert = Callable[..., InsertResult]  # the `insert` fixture (conftest.py)


def test_no_file_or_no_schema_is_none(tmp_path: Path) -> None:
    assert open_reader(tmp_path / "missing.db") is None
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()  # a SQLite file with no tables: not migrated yet
    assert open_reader(empty) is None


def test_a_foreign_file_raises_the_store_advice(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    conn = sqlite3.connect(foreign)
    conn.execute("CREATE TABLE notes (x)")
    conn.close()
    with pytest.raises(StoreError, match="not a waitbus event store"):
        open_reader(foreign)


def test_reads_in_both_orders_by_id_and_counts(insert: Insert, store: Store, db_path: Path) -> None:
    ids = [insert(source="pytest" if i % 2 else "docker", event_type="t", fields={"i": i}).event_id for i in range(7)]
    reader = open_reader(db_path)
    assert reader is not None
    with reader:
        assert reader.head() == (7, ids[-1])
        assert reader.count() == 7 and reader.count(source="pytest") == 3
        assert reader.count(after=2, upto=5) == 3
        assert [f.event_id for _, f in reader.scan(batch=2)] == ids
        assert [f.event_id for _, f in reader.scan(3, upto=5)] == ids[3:5]
        assert [f.fields["i"] for _, f in reader.recent(source="pytest", batch=2)] == [5, 3, 1]
        assert [f.event_id for _, f in reader.recent(after_id=ids[4])] == ids[:4:-1]
        assert reader.seq_at_or_before(ids[3]) == 4
        found = reader.get(ids[2])
        assert found is not None and isinstance(found[0], EventFrame) and found[0].fields["i"] == 2
        assert reader.get("0" * 26) is None
        first, last = reader.first(), reader.last()
        assert first is not None and last is not None and (first.event_id, last.event_id) == (ids[0], ids[-1])
        assert reader.by_source() == [("docker", 4), ("pytest", 3)]
        assert [g.events for g in reader.by_type()] == [4, 3]
        assert isinstance(reader.by_type()[0], TypeSummary)
        assert reader.integrity_check() == [] and reader.integrity_check(quick=True) == []


def test_a_reader_cannot_write(insert: Insert, store: Store, db_path: Path) -> None:
    insert()
    reader = open_reader(db_path)
    assert reader is not None
    with reader, pytest.raises(sqlite3.OperationalError):
        reader.connection.execute("DELETE FROM events")
    assert store.count() == 1


def test_a_row_whose_fields_are_not_an_object_still_reads(insert: Insert, store: Store, db_path: Path) -> None:
    """The one converter (Row.to_frame): a row written around the store with bad
    fields shows up, marked, instead of hiding itself or stopping the listing."""
    good = insert(fields={"ok": True}).event_id
    bad = insert().event_id
    store.connection.execute("UPDATE events SET fields = '[1, 2' WHERE event_id = ?", (bad,))
    reader = open_reader(db_path)
    assert reader is not None
    with reader:
        frames = [f for _, f in reader.recent()]
    assert [f.event_id for f in frames] == [bad, good]
    assert frames[0].fields == {"_undecodable_fields": "[1, 2"}


def test_entities_fold_the_newest_state_per_entity(insert: Insert, store: Store, db_path: Path) -> None:
    insert(source="github", event_type="workflow_job", fields={"job_id": 1, "status": "queued"})
    insert(source="github", event_type="workflow_job", fields={"job_id": 2, "conclusion": "success"})
    insert(source="github", event_type="workflow_job", fields={"job_id": 1, "conclusion": "failure"})
    insert(source="alertmanager", event_type="alert", fields={"fingerprint": "ab", "status": "firing"})
    reader = open_reader(db_path)
    assert reader is not None
    with reader:
        board = reader.entities(source="github")
        plugin = reader.entities(source="alertmanager", keys={"alertmanager": ("fields.fingerprint",)})
        bare = reader.entities(source="alertmanager")
    assert [(e.kind, e.name, e.state, e.failed, e.events) for e in board] == [
        ("ci job", "1", "failure", True, 2),
        ("ci job", "2", "success", False, 1),
    ]
    assert [(e.kind, e.name) for e in plugin] == [("fingerprint", "ab")]
    assert [(e.kind, e.name) for e in bare] == [("event", "alertmanager/alert")]
    frame = board[0].frame
    assert entity_of(frame) == ("ci job", "1")


def test_a_damaged_page_is_a_store_error_not_sqlite3(insert: Insert, store: Store, db_path: Path) -> None:
    for i in range(2000):
        insert(fields={"i": i, "pad": "x" * 200})
    store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    with open(db_path, "r+b") as f:  # table pages well past the schema page
        f.seek(20 * 4096)
        f.write(os.urandom(40 * 4096))
    reader = open_reader(db_path)  # the header is intact: it opens
    assert reader is not None
    with reader:
        with pytest.raises(StoreError, match=r"corrupt or not a SQLite file.*move it away"):
            list(islice(reader.scan(), 5000))
        assert reader.integrity_check(quick=True) != []

"""Idempotent insert, cursor reads, get, bookmarks."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path

from waitbus_store import InsertResult, Row, Store
from waitbus_wire import decode_ulid, is_ulid, ulid_floor, ulid_from_parts, ulid_time_ms

MS = 1_000_000  # ns per ms
Insert = Callable[..., InsertResult]  # the `insert` fixture (conftest.py)


def test_insert_returns_id_seq_and_inserted(insert: Insert, store: Store) -> None:
    r = insert(delivery_id="d1", fields={"n": 1}, owner="o", repo="r", summary="hello", payload=b"raw")
    assert isinstance(r, InsertResult)
    assert r.inserted is True
    assert r.seq == 1
    assert is_ulid(r.event_id)
    assert store.head() == (1, r.event_id)
    assert store.count() == 1


def test_redelivery_is_a_no_op_returning_the_original(insert: Insert, store: Store) -> None:
    first = insert(source="github", delivery_id="abc", fields={"v": 1}, summary="first")
    again = insert(source="github", delivery_id="abc", fields={"v": 2}, summary="second")
    assert again == InsertResult(first.event_id, first.seq, False)
    assert store.count() == 1
    got = store.get(first.event_id)
    assert got is not None
    assert got[0].summary == "first"
    assert json.loads(got[0].fields)["v"] == 1
    # The next new event still sorts after the original (an ignored redelivery may
    # use up a seq number: seq is increasing, not gap-free).
    nxt = insert(source="github", delivery_id="next")
    assert nxt.seq > first.seq
    assert nxt.event_id > first.event_id


def test_same_delivery_id_under_another_source_is_a_new_event(insert: Insert, store: Store) -> None:
    a = insert(source="github", delivery_id="same")
    b = insert(source="alertmanager", delivery_id="same")
    assert a.inserted and b.inserted
    assert a.event_id != b.event_id
    assert b.seq == a.seq + 1
    assert store.count() == 2


def test_without_delivery_id_the_event_id_is_the_key(insert: Insert, store: Store) -> None:
    a = insert()
    b = insert()
    assert a.inserted and b.inserted
    assert a.event_id != b.event_id
    row = store.get(a.event_id)
    assert row is not None
    assert row[0].delivery_id == a.event_id


def test_ids_strictly_increase_in_seq_order(insert: Insert, store: Store) -> None:
    # A clock that stalls and goes backwards (received_at drives the id time).
    base = 1_700_000_000_000 * MS
    times = [base, base, base - 5 * MS, base + MS, base - 1000 * MS, base + MS, base + MS]
    results = [insert(delivery_id=f"d{i}", received_at=t) for i, t in enumerate(times)]
    assert [r.seq for r in results] == list(range(1, len(times) + 1))
    ids = [r.event_id for r in results]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(decode_ulid(a) < decode_ulid(b) for a, b in itertools.pairwise(ids))
    # received_at is stored as given, even when the id had to be bumped past it.
    rows = store.read_after(0)
    assert [r.received_at for r in rows] == times


def test_received_at_defaults_to_now_in_ns(insert: Insert, store: Store) -> None:
    before = time.time_ns()
    r = insert()
    after = time.time_ns()
    row = store.get(r.event_id)
    assert row is not None
    assert before <= row[0].received_at <= after
    assert ulid_time_ms(r.event_id) == row[0].received_at // MS


def test_read_after_upto_and_limit(insert: Insert, store: Store) -> None:
    ids = [insert(delivery_id=str(i), fields={"i": i}).event_id for i in range(10)]
    rows = store.read_after(0)
    assert [r.seq for r in rows] == list(range(1, 11))
    assert [r.event_id for r in rows] == ids
    assert all(isinstance(r, Row) for r in rows)
    assert [r.seq for r in store.read_after(3, limit=4)] == [4, 5, 6, 7]
    assert [r.seq for r in store.read_after(3, upto=5)] == [4, 5]
    assert [r.seq for r in store.read_after(3, 1, upto=5)] == [4]
    assert store.read_after(10) == []
    assert store.read_after(5, upto=5) == []


def test_row_columns(insert: Insert, store: Store) -> None:
    r = insert(
        source="github",
        event_type="workflow_run",
        fields={"run_id": 7},
        delivery_id="del-1",
        owner="octo",
        repo="hello",
        summary="run 7",
        received_at=123 * MS,
        payload=b'{"big": true}',
    )
    (row,) = store.read_after(0)
    assert row == Row(
        seq=r.seq,
        event_id=r.event_id,
        source="github",
        event_type="workflow_run",
        owner="octo",
        repo="hello",
        received_at=123 * MS,
        delivery_id="del-1",
        summary="run 7",
        fields='{"run_id":7,"source":"github","event_type":"workflow_run"}',
    )


def test_get_returns_row_and_payload_bytes(insert: Insert, store: Store) -> None:
    payload = bytes(range(256)) * 4
    with_payload = insert(payload=payload)
    without = insert()
    got = store.get(with_payload.event_id)
    assert got is not None
    row, raw = got
    assert row.event_id == with_payload.event_id
    assert raw == payload
    assert isinstance(raw, bytes)
    got2 = store.get(without.event_id)
    assert got2 is not None
    assert got2[1] is None
    assert store.get(ulid_floor(0)) is None


def test_payload_is_stored_as_a_blob(insert: Insert, store: Store) -> None:
    r = insert(payload=b"\x00\x01")
    kind = store.connection.execute("SELECT typeof(payload) FROM events WHERE event_id = ?", (r.event_id,))
    assert kind.fetchone()[0] == "blob"


def test_seq_at_or_before_stored_ids(insert: Insert, store: Store) -> None:
    results = [insert(delivery_id=str(i)) for i in range(5)]
    for r in results:
        assert store.seq_at_or_before(r.event_id) == r.seq


def test_seq_at_or_before_synthetic_time_floors(insert: Insert, store: Store) -> None:
    # Rows at 100, 200, 200, 300 ms.
    t = [100, 200, 200, 300]
    results = [insert(delivery_id=str(i), received_at=ms * MS) for i, ms in enumerate(t)]
    assert ulid_time_ms(results[2].event_id) == 200
    assert store.seq_at_or_before(ulid_floor(0)) == 0
    assert store.seq_at_or_before(ulid_floor(100)) == 0  # the floor sorts before any id of that ms
    assert store.seq_at_or_before(ulid_floor(101)) == results[0].seq
    assert store.seq_at_or_before(ulid_floor(200)) == results[0].seq
    assert store.seq_at_or_before(ulid_floor(250)) == results[2].seq
    assert store.seq_at_or_before(ulid_floor(10**12)) == results[3].seq
    # An id between two stored ones resolves to the earlier one.
    assert store.seq_at_or_before(ulid_from_parts(100, (1 << 80) - 1)) == results[0].seq
    assert store.seq_at_or_before(ulid_from_parts(299, 0)) == results[2].seq


def test_seq_at_or_before_on_empty_log(store: Store) -> None:
    assert store.seq_at_or_before(ulid_floor(10**12)) == 0
    assert store.head() is None
    assert store.count() == 0
    assert store.read_after(0) == []


def test_bookmarks(insert: Insert, store: Store) -> None:
    a = insert().event_id
    b = insert().event_id
    assert store.get_bookmark("ci") is None
    store.set_bookmark("ci", a)
    assert store.get_bookmark("ci") == a
    t0 = store.connection.execute("SELECT updated_at FROM bookmarks WHERE name = 'ci'").fetchone()[0]
    store.set_bookmark("ci", b)
    assert store.get_bookmark("ci") == b
    store.set_bookmark("other", a)
    rows = store.connection.execute("SELECT name, event_id, updated_at FROM bookmarks ORDER BY name").fetchall()
    assert [(n, e) for n, e, _ in rows] == [("ci", b), ("other", a)]
    assert rows[0][2] >= t0 > 10**18  # epoch ns


def test_rows_survive_reopen(db_path: Path, insert: Insert, store: Store) -> None:
    r = insert(delivery_id="persist", payload=b"p")
    store.close()
    with Store(db_path) as again:
        got = again.get(r.event_id)
        assert got is not None
        assert got[1] == b"p"
        nxt = again.insert(source="test", event_type="thing", fields=b"{}", delivery_id="after")
        assert nxt.event_id > r.event_id
        assert nxt.seq == r.seq + 1

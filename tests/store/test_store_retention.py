"""Retention: prune by row count, age and size; dry runs; progress."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

import waitbus_store._retention as retention
from waitbus_store import InsertResult, PruneResult, Store, plan_prune, prune

Insert = Callable[..., InsertResult]  # the `insert` fixture (conftest.py)
HOUR_NS = 3600 * 10**9


def fill(insert: Insert, n: int, **kw: object) -> list[InsertResult]:
    return [insert(**kw) for _ in range(n)]


def test_prune_by_max_rows_keeps_the_newest(insert: Insert, store: Store) -> None:
    results = fill(insert, 50)
    res = prune(store, max_rows=20)
    assert isinstance(res, PruneResult)
    assert (res.deleted, res.remaining, res.dry_run) == (30, 20, False)
    rows = store.read_after(0)
    assert [r.event_id for r in rows] == [r.event_id for r in results[30:]]
    # seq keeps counting after a prune (AUTOINCREMENT: no reuse).
    assert insert().seq == 51


def test_prune_within_limits_deletes_nothing(insert: Insert, store: Store) -> None:
    fill(insert, 5)
    res = prune(store, max_rows=5)
    assert (res.deleted, res.remaining) == (0, 5)
    assert prune(store).deleted == 0  # no limits at all
    assert store.count() == 5


def test_prune_by_age(insert: Insert, store: Store) -> None:
    now = time.time_ns()
    old = fill(insert, 10, received_at=now - 2 * HOUR_NS)
    new = fill(insert, 5, received_at=now)
    res = prune(store, older_than_s=3600)
    assert (res.deleted, res.remaining) == (10, 5)
    assert [r.event_id for r in store.read_after(0)] == [r.event_id for r in new]
    assert store.get(old[-1].event_id) is None


def test_prune_by_age_removes_a_prefix_of_the_log(insert: Insert, store: Store) -> None:
    # A recent row committed before an old one goes too: rows leave in seq order only.
    now = time.time_ns()
    insert(received_at=now)
    insert(received_at=now - 2 * HOUR_NS)
    keep = insert(received_at=now)
    assert plan_prune(store, older_than_s=3600) == 2
    assert prune(store, older_than_s=3600).deleted == 2
    assert [r.event_id for r in store.read_after(0)] == [keep.event_id]


def test_prune_by_size_shrinks_below_the_limit(insert: Insert, store: Store, db_path: Path) -> None:
    fill(insert, 300, payload=b"p" * 2000)
    store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = store.size_bytes()
    file_before = db_path.stat().st_size
    assert size > 600_000
    limit = 200_000
    res = prune(store, max_bytes=limit)
    assert res.size_before == size
    assert res.size_after == store.size_bytes() <= limit
    assert 0 < res.deleted < 300
    assert res.remaining == store.count() == 300 - res.deleted
    # Freed pages are given back (auto_vacuum=INCREMENTAL), so the file itself shrinks.
    assert store.connection.execute("PRAGMA freelist_count").fetchone()[0] == 0
    store.connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    assert db_path.stat().st_size < file_before / 2
    # The newest rows are the ones kept.
    assert store.read_after(0)[-1].seq == 300


def test_prune_by_size_below_an_empty_log_removes_everything(insert: Insert, store: Store) -> None:
    fill(insert, 20, payload=b"x" * 500)
    res = prune(store, max_bytes=1)
    assert (res.deleted, res.remaining) == (20, 0)


def test_limits_combine_by_taking_the_largest_cut(insert: Insert, store: Store) -> None:
    now = time.time_ns()
    fill(insert, 4, received_at=now - 2 * HOUR_NS)
    fill(insert, 16, received_at=now)
    assert plan_prune(store, older_than_s=3600, max_rows=18) == 4
    assert plan_prune(store, older_than_s=3600, max_rows=10) == 10
    assert plan_prune(store, max_rows=100) == 0
    assert plan_prune(store, max_rows=0) == 20


def test_dry_run_deletes_nothing(insert: Insert, store: Store) -> None:
    fill(insert, 30, payload=b"d" * 1000)
    size = store.size_bytes()
    calls: list[tuple[int, int]] = []
    res = prune(store, max_rows=10, dry_run=True, progress=lambda d, t: calls.append((d, t)))
    twentieth = store.read_after(0, limit=20)[-1]
    through = (twentieth.event_id, twentieth.received_at)
    assert res == PruneResult(
        deleted=20, remaining=10, size_before=size, size_after=size, dry_run=True, through=through
    )
    assert store.count() == 30
    assert calls == []
    res_size = prune(store, max_bytes=1, dry_run=True)
    assert res_size.deleted == 30
    assert store.count() == 30


def test_progress_is_called_per_batch(insert: Insert, store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retention, "BATCH_ROWS", 7)
    fill(insert, 40)
    calls: list[tuple[int, int]] = []
    res = prune(store, max_rows=10, progress=lambda done, total: calls.append((done, total)))
    assert res.deleted == 30
    assert calls == [(7, 30), (14, 30), (21, 30), (28, 30), (30, 30)]
    assert store.count() == 10


def test_bookmarks_survive_a_prune(insert: Insert, store: Store) -> None:
    first = insert()
    fill(insert, 5)
    store.set_bookmark("b", first.event_id)
    prune(store, max_rows=1)
    assert store.get_bookmark("b") == first.event_id
    # A cursor into the pruned range still resolves: it just points before the log.
    assert store.seq_at_or_before(first.event_id) == 0

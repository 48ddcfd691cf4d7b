"""Retention: keep the log bounded by age, row count and size.

Deletes oldest-first in batches (each its own short transaction, so producers are
never blocked for long), then gives freed pages back with incremental vacuum.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from typing import NamedTuple

from ._reserve import ensure_reserve, release_reserve
from ._store import Store, _explain

BATCH_ROWS = 5000
TIGHT_BATCH_ROWS = 200  # on a full disk: small deletes, each checkpointed


class PruneResult(NamedTuple):
    deleted: int
    remaining: int
    size_before: int
    size_after: int
    dry_run: bool
    through: tuple[str, int] | None = None  # dry run: (event_id, received_at) of the newest row that would go


def plan_prune(
    store: Store, *, older_than_s: float | None = None, max_rows: int | None = None, max_bytes: int | None = None
) -> int:
    """How many of the oldest rows (by seq) the limits say must go. StoreError (the
    store's advice) when the log cannot be read, e.g. a damaged page on the way."""
    try:
        return _plan(store, older_than_s, max_rows, max_bytes)
    except sqlite3.Error as exc:
        raise _explain(exc, store.path) from None


def _plan(store: Store, older_than_s: float | None, max_rows: int | None, max_bytes: int | None) -> int:
    conn = store.connection
    total = store.count()
    doomed = 0
    if older_than_s is not None:
        cutoff = time.time_ns() - int(older_than_s * 1e9)
        # Rows go in seq order, so count up to the newest too-old row: the plan is
        # always a prefix of the log and a cursor never points into a hole.
        row = conn.execute("SELECT max(seq) FROM events WHERE received_at < ?", (cutoff,)).fetchone()
        if row[0] is not None:
            older = conn.execute("SELECT count(*) FROM events WHERE seq <= ?", (row[0],)).fetchone()[0]
            doomed = max(doomed, int(older))
    if max_rows is not None:
        doomed = max(doomed, total - max_rows)
    if max_bytes is not None and total:
        size = store.size_bytes()
        if size > max_bytes:
            per_row = size / total
            doomed = max(doomed, min(total, int((size - max_bytes) / per_row) + 1))
    return max(0, min(doomed, total))


def prune(
    store: Store,
    *,
    older_than_s: float | None = None,
    max_rows: int | None = None,
    max_bytes: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PruneResult:
    """Delete the oldest events beyond the limits; `progress(done, total)` per batch."""
    size_before = store.size_bytes()
    target = plan_prune(store, older_than_s=older_than_s, max_rows=max_rows, max_bytes=max_bytes)
    conn = store.connection
    if dry_run or target == 0:
        through = None
        if dry_run and target:
            try:
                row = conn.execute(
                    "SELECT event_id, received_at FROM events ORDER BY seq LIMIT 1 OFFSET ?", (target - 1,)
                )
                found = row.fetchone()
            except sqlite3.Error as exc:
                raise _explain(exc, store.path) from None
            through = (str(found[0]), int(found[1])) if found else None
        remaining = store.count() - (target if dry_run else 0)
        return PruneResult(target, remaining, size_before, size_before, dry_run, through)
    done, batch, tight = 0, BATCH_ROWS, False
    try:
        while done < target:
            n = min(batch, target - done)
            try:
                conn.execute("DELETE FROM events WHERE seq IN (SELECT seq FROM events ORDER BY seq LIMIT ?)", (n,))
            except sqlite3.OperationalError as exc:
                # A full disk: give back the reserve once, then delete in small steps,
                # each checkpointed so the WAL never needs more than a little room.
                if "full" not in str(exc) or tight or not release_reserve(store.path):
                    raise
                tight, batch = True, TIGHT_BATCH_ROWS
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                continue
            done += n
            if tight:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            if progress:
                progress(done, target)
        # Not execute(): it steps a statement without result columns once, and each
        # step of incremental_vacuum frees one page. executescript runs it to the end.
        conn.executescript("PRAGMA incremental_vacuum;")
        if tight:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the file shrinks now, so the reserve fits again
    except sqlite3.Error as exc:
        raise _explain(exc, store.path) from None
    ensure_reserve(store.path)
    # A size limit is estimated from the average row; finish it off if still over.
    if max_bytes is not None and store.count() and store.size_bytes() > max_bytes:
        done += prune(store, max_bytes=max_bytes, progress=progress).deleted
    return PruneResult(done, store.count(), size_before, store.size_bytes(), False)

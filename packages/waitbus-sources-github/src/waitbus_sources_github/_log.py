"""Reading the GitHub events already in the log (read-only: these readers never write it)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NamedTuple

RANK = {"requested": 0, "pending": 0, "waiting": 0, "queued": 0, "in_progress": 1, "completed": 2}


class LogRow(NamedTuple):
    seq: int
    event_type: str
    owner: str | None
    repo: str | None
    received_at: int
    fields: dict[str, Any]
    payload: bytes | None


def open_log() -> sqlite3.Connection | None:
    """A read-only connection to the event log, or None if there is no log yet."""
    from waitbus_store import connect_readonly, resolve_paths

    db = resolve_paths().db
    if not db.exists():
        return None
    return connect_readonly(db)


def github_rows(
    conn: sqlite3.Connection,
    event_types: tuple[str, ...],
    *,
    after_seq: int = 0,
    since_ns: int = 0,
    with_payload: bool = False,
    batch: int = 1000,
) -> Iterator[LogRow]:
    """github events of `event_types` with seq > after_seq and received_at >= since_ns,
    in commit order, read in batches so a long log never sits in memory."""
    marks = ",".join("?" * len(event_types))
    payload = "payload" if with_payload else "NULL"
    seq = after_seq
    while True:
        rows = conn.execute(
            f"SELECT seq, event_type, owner, repo, received_at, fields, {payload} FROM events "
            f"WHERE source = 'github' AND event_type IN ({marks}) AND seq > ? AND received_at >= ? "
            "ORDER BY seq LIMIT ?",
            (*event_types, seq, since_ns, batch),
        ).fetchall()
        for row in rows:
            seq = int(row[0])
            try:
                fields = json.loads(row[5])
            except ValueError:
                continue
            if isinstance(fields, dict):
                raw = row[6]
                yield LogRow(seq, row[1], row[2], row[3], int(row[4]), fields, bytes(raw) if raw is not None else None)
        if len(rows) < batch:
            return


def rank(fields: dict[str, Any]) -> int:
    """How far along a run or job is: queued 0, in_progress 1, completed 2."""
    return RANK.get(str(fields.get("status")), 0)


def parse_time(text: Any) -> float | None:
    """Epoch seconds of a GitHub timestamp (`2021-08-05T10:34:58Z`), or None."""
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None

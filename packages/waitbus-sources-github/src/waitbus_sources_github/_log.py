"""Reading the GitHub events already in the log (read-only: these readers never write it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waitbus import EventFrame
    from waitbus_store import Reader

RANK = {"requested": 0, "pending": 0, "waiting": 0, "queued": 0, "in_progress": 1, "completed": 2}


def open_log() -> Reader | None:
    """The store's read-only reader on the event log, or None if there is no log yet."""
    from waitbus_store import open_reader

    return open_reader()


def github_rows(
    log: Reader,
    event_types: tuple[str, ...],
    *,
    after_seq: int = 0,
    since_ns: int | None = None,
) -> Iterator[tuple[int, EventFrame]]:
    """(seq, frame) of github events of `event_types` with seq > after_seq and
    received_at >= since_ns, in commit order (read in batches by the store)."""
    return log.scan(after_seq, source="github", event_types=event_types, since_ns=since_ns)


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

"""The CLI's door to the log: `--source`/`--match` filters, `--since`, and opening the
store's reader (read-only) or the store (bookmarks, prune, migrate) with the CLI's
exit codes. The queries themselves live in waitbus-store (`Reader`); what an entity is
lives there too (`waitbus_store.entity_of`), shared with the MCP server.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._errors import CliError

if TYPE_CHECKING:
    from waitbus_store import Reader, Store
    from waitbus_wire import EventFrame, Predicate

# -- filters ---------------------------------------------------------------------


class Filter:
    """`--source` (done by the store's query) and `--match` specs (the wire grammar, on the frame)."""

    def __init__(self, source: str | None, match: Sequence[str] | None) -> None:
        from waitbus_wire import parse_predicate

        self.source = source
        self.specs = list(match or [])
        self.predicate: Predicate | None = parse_predicate(self.specs) if self.specs else None

    def wants(self, frame: EventFrame) -> bool:
        return self.predicate is None or self.predicate.matches(frame)


def parse_since(text: str) -> tuple[str | None, int | None]:
    """`--since`: an event id (returned as is) or a duration back from now
    (returned as a received_at cutoff in ns). ValueError says the format."""
    from waitbus_wire import is_ulid

    if is_ulid(text):
        return text, None
    from waitbus_wire import parse_duration

    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ValueError(f"--since {text!r} is neither an event id (26-char ULID) nor a duration like 1h") from None
    return None, time.time_ns() - int(seconds * 1e9)


def cutoff_cursor(cutoff_ns: int) -> str:
    """The commit-order cursor meaning 'events from this time on'."""
    from waitbus_wire import ulid_floor

    return ulid_floor(cutoff_ns // 1_000_000)


def since_cursor(text: str) -> str:
    """`--since` as a commit-order cursor: the event id, or the first cursor of that time."""
    cursor, cutoff = parse_since(text)
    return cursor or cutoff_cursor(cutoff or 0)


# -- reading the log -------------------------------------------------------------


def open_log(*, missing_ok: bool) -> Reader | None:
    """The store's read-only reader; None if there is no log yet (and `missing_ok`).
    A foreign, corrupt or too-new file is a CliError (exit 2) with the store's advice."""
    from waitbus_store import StoreError, open_reader, resolve_paths

    try:
        reader = open_reader()
    except StoreError as exc:
        raise CliError(str(exc)) from None
    if reader is None and not missing_ok:
        db = resolve_paths().db
        if db.exists():
            raise CliError(f"the event store at {db} is empty (no schema yet); run `waitbus db migrate`")
        raise CliError(f"no event store at {db}; run `waitbus init` or emit an event first")
    return reader


def open_store() -> Store:
    """The read-write store (bookmarks, prune, migrate). A foreign, corrupt or
    too-new file is exit 2; a store that cannot be opened for writing is exit 4."""
    from waitbus_store import PathError, Store, StoreError, resolve_paths, schema_status

    db = resolve_paths().db
    try:
        if db.exists():
            schema_status(db)
    except StoreError as exc:
        raise CliError(str(exc), 2) from None
    try:
        return Store(db)
    except (StoreError, PathError) as exc:
        raise CliError(str(exc), 4) from None

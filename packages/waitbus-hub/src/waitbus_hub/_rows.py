"""A stored row made ready to send: its frame encoded once for every subscriber."""

from __future__ import annotations

from typing import Any

import msgspec

from waitbus_store import Row
from waitbus_wire import MAX_FRAME_BYTES, EventFrameRaw, Truncated, encode_frame, encode_message


class Prepared:
    """The frame is encoded on first use: a replay through a `where` that skips most
    of the log decides on the row and never pays for frames it does not send."""

    # The row's text columns are attributes: the hub's filters test them directly.
    __slots__ = (
        "_frame",
        "_row",
        "_view",
        "delivery_id",
        "event_id",
        "event_type",
        "owner",
        "repo",
        "seq",
        "source",
        "summary",
    )

    def __init__(self, row: Row) -> None:
        self.seq = row.seq
        self.event_id = row.event_id
        self.event_type = row.event_type
        self.owner = row.owner
        self.repo = row.repo
        self.source = row.source
        self.delivery_id = row.delivery_id
        self.summary = row.summary
        self._row = row
        self._view: dict[str, Any] | bool | None = False
        self._frame: bytes | None = None

    @property
    def frame(self) -> bytes:
        if self._frame is None:
            row = self._row
            body = encode_message(
                EventFrameRaw(
                    event_id=row.event_id,
                    event_type=row.event_type,
                    source=row.source,
                    owner=row.owner,
                    repo=row.repo,
                    received_at=row.received_at,
                    delivery_id=row.delivery_id,
                    summary=row.summary,
                    fields=msgspec.Raw(row.fields.encode()),
                )
            )
            if len(body) > MAX_FRAME_BYTES:
                body = encode_message(Truncated(event_id=row.event_id, reason=f"event frame is {len(body)} bytes"))
            self._frame = encode_frame(body)
        return self._frame

    def size(self) -> int:
        """What this entry costs a cache: the row's fields, its frame once made, and
        the decoded fields once asked for, counted as 3x the stored text."""
        return 3 * len(self._row.fields)

    def view(self) -> dict[str, Any] | None:
        """The event as a mapping for predicates; decoded at most once, only if a
        subscriber with a hub-side predicate asks. None if fields are not JSON."""
        if self._view is False:
            row = self._row
            try:
                fields = msgspec.json.decode(row.fields)
            except (msgspec.DecodeError, RecursionError):  # not JSON, or nested past the stack
                self._view = None
                return None
            self._view = {
                "event_id": row.event_id,
                "event_type": row.event_type,
                "source": row.source,
                "owner": row.owner,
                "repo": row.repo,
                "received_at": row.received_at,
                "delivery_id": row.delivery_id,
                "summary": row.summary,
                "fields": fields,
            }
        return self._view  # type: ignore[return-value]

"""A stored event as readers see it: every column but the payload."""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from waitbus_wire import EventFrame


class Row(NamedTuple):
    """One stored event without its payload (what the hub and readers need)."""

    seq: int
    event_id: str
    source: str
    event_type: str
    owner: str | None
    repo: str | None
    received_at: int
    delivery_id: str
    summary: str
    fields: str

    def to_frame(self) -> EventFrame:
        """The row as subscribers receive it (the same shape predicates match on).

        The one row -> EventFrame converter of every reader. A row whose `fields` is not
        a JSON object (written around the store, e.g. by hand with sqlite3) still reads:
        its fields become {"_undecodable_fields": the first 200 characters}, so one bad
        row neither hides itself nor stops a listing."""
        import msgspec

        from waitbus_wire import EventFrame

        try:
            fields = msgspec.json.decode(self.fields)
        except (msgspec.DecodeError, TypeError):
            fields = None
        if not isinstance(fields, dict):
            fields = {"_undecodable_fields": str(self.fields)[:200]}

        return EventFrame(
            event_id=self.event_id,
            event_type=self.event_type,
            source=self.source,
            owner=self.owner,
            repo=self.repo,
            received_at=self.received_at,
            delivery_id=self.delivery_id,
            summary=self.summary,
            fields=fields,
        )

"""The one JSON shape of an event outside the hub protocol: every `--json`, the
`$WAITBUS_EVENT_FILE` of `waitbus on`, and the MCP tools (docs/wire.md section 10)."""

from __future__ import annotations

import time

TYPE_CHECKING = False  # not `from typing import ...`: keeps `import waitbus_wire` nearly free
if TYPE_CHECKING:
    from typing import Any

    from ._messages import EventFrame


def iso_utc(ns: int) -> str:
    """RFC 3339 UTC with milliseconds from nanoseconds since the epoch, e.g.
    2025-06-01T12:00:00.123Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns // 10**6 % 1000:03d}Z"


def event_dict(frame: EventFrame) -> dict[str, Any]:
    """An event as one JSON object: its frame's attributes (no `kind`), plus `time`,
    `received_at` as RFC 3339 for readers that do not want nanoseconds."""
    return {
        "event_id": frame.event_id,
        "time": iso_utc(frame.received_at),
        "received_at": frame.received_at,
        "source": frame.source,
        "event_type": frame.event_type,
        "owner": frame.owner,
        "repo": frame.repo,
        "delivery_id": frame.delivery_id,
        "summary": frame.summary,
        "fields": frame.fields,
    }


def event_json(frame: EventFrame) -> bytes:
    """event_dict() encoded as compact JSON (UTF-8, no newline)."""
    import msgspec

    return msgspec.json.encode(event_dict(frame))

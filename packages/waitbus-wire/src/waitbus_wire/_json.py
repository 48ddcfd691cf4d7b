"""The one JSON shape of an event outside the hub protocol: every `--json`, the
`$WAITBUS_EVENT_FILE` of `waitbus on`, and the MCP tools (docs/wire.md section 10)."""

from __future__ import annotations

import json
import time

TYPE_CHECKING = False  # not `from typing import ...`: keeps `import waitbus_wire` nearly free
if TYPE_CHECKING:
    from typing import Any

    from ._messages import EventFrame
    from ._messages_json import EventView


def iso_utc(ns: int) -> str:
    """RFC 3339 UTC with milliseconds from nanoseconds since the epoch, e.g.
    2025-06-01T12:00:00.123Z."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + f".{ns // 10**6 % 1000:03d}Z"


def event_dict(frame: EventFrame | EventView) -> dict[str, Any]:
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


def event_json(frame: EventFrame | EventView) -> bytes:
    """event_dict() encoded as compact JSON (UTF-8, no newline), as msgspec writes it.

    The stdlib's encoder writes the same bytes for every value but a float in exponent
    form (msgspec: `1e20`, `0.00001`; Python: `1e+20`, `1e-05`), so an event without one
    (nearly all) is encoded without importing msgspec, ~25 ms of `waitbus wait --json`."""
    data = event_dict(frame)
    if _no_exponent(data["fields"]):
        try:
            return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
        except (UnicodeEncodeError, ValueError, TypeError):
            pass  # msgspec's own answer (or error) for what has no plain JSON form
    import msgspec

    return msgspec.json.encode(data)


def _no_exponent(value: Any) -> bool:
    """False if a float anywhere in `value` prints with an exponent (or is inf/nan)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is float:
            text = repr(item)
            if "e" in text or "n" in text:  # 1e+20, inf, nan
                return False
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True

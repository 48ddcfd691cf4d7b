"""CloudEvents 1.0 structured mode (`application/cloudevents+json`) to a waitbus event,
for POST /emit. The mapping both ways is in docs/emitters.md.

    specversion "1.0" (required)  checked, not stored
    source, type (required)       the event's source and event_type: waitbus names (a-z0-9_.-)
    id (required)                 delivery_id: a repeated id is stored once
    subject                       summary
    data (JSON)                   fields (an object as is; anything else as {"data": ...})
    data_base64                   the payload bytes
    owner, repo (extensions)      owner and repo
    time, dataschema, datacontenttype and other extensions: fields["cloudevent"]
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from ._errors import CliError

SPECVERSION = "1.0"
CONTENT_TYPE = "application/cloudevents+json"
_MAPPED = {"specversion", "id", "source", "type", "subject", "data", "data_base64", "owner", "repo"}


class CloudEventError(CliError, ValueError):
    """A body that is not a structured-mode CloudEvent waitbus can store; the message says why."""


def is_cloudevent(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() == CONTENT_TYPE


def to_emit(ce: dict[str, Any]) -> dict[str, Any]:
    """emit() keyword arguments for one structured-mode CloudEvent (raises CloudEventError)."""
    if ce.get("specversion") != SPECVERSION:
        raise CloudEventError(f'specversion must be "{SPECVERSION}"; got {ce.get("specversion")!r:.40}')
    missing = [k for k in ("id", "source", "type") if not isinstance(ce.get(k), str) or not ce[k]]
    if missing:
        raise CloudEventError(f"a CloudEvent needs string {', '.join(missing)}")
    if "data" in ce and "data_base64" in ce:
        raise CloudEventError("data and data_base64 are exclusive (CloudEvents 1.0 JSON format)")
    data = ce.get("data")
    fields: dict[str, Any] = data if isinstance(data, dict) else ({} if data is None else {"data": data})
    rest = {k: v for k, v in ce.items() if k not in _MAPPED}
    if rest:
        fields = {**fields, "cloudevent": rest}
    out: dict[str, Any] = {
        "source": ce["source"],
        "event_type": ce["type"],
        "fields": fields,
        "delivery_id": ce["id"],
    }
    if isinstance(ce.get("subject"), str):
        out["summary"] = ce["subject"]
    for key in ("owner", "repo"):
        if ce.get(key) is not None:
            out[key] = ce[key]
    if "data_base64" in ce:
        try:
            out["payload"] = base64.b64decode(str(ce["data_base64"]), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CloudEventError(f"data_base64 is not base64: {exc}") from None
    return out

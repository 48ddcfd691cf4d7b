"""POST /emit: one event as JSON, for producers without Python (curl in a CI image), or
one structured-mode CloudEvent (`Content-Type: application/cloudevents+json`).

Authorized by `Authorization: Bearer <emit-token>` before the body is read; validated by
waitbus.emit itself, so the rules and messages are the SDK's.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING

from ._listener import error, json_response

if TYPE_CHECKING:
    from waitbus import HttpRequest, HttpResponse

SECRET = "emit-token"  # noqa: S105 - the name of a secret, not its value
KEYS = ("source", "event_type", "fields", "payload", "delivery_id", "owner", "repo", "summary")
REQUIRED = ("source", "event_type")


def bearer_ok(headers: Mapping[str, str], token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time."""
    scheme, _, given = headers.get("authorization", "").strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    # Header text arrives decoded as latin-1: compare the raw bytes, not str (which
    # compare_digest refuses for non-ASCII).
    return hmac.compare_digest(given.strip().encode("latin-1", "replace"), token.encode())


def authorize_emit(headers: Mapping[str, str], secrets: Mapping[str, str]) -> HttpResponse | None:
    """None if the request may proceed, else the refusal."""
    token = secrets.get(SECRET)
    if not token:
        return error(
            503,
            f"POST /emit is off: no {SECRET} is staged. Stage one with "
            f"`waitbus install-credentials {SECRET}` and restart the listener",
        )
    if not bearer_ok(headers, token):
        return error(401, f"missing or wrong bearer token (Authorization: Bearer <{SECRET}>)")
    return None


def handle_emit(req: HttpRequest) -> HttpResponse:
    from waitbus import EventError, emit
    from waitbus_store import PathError, SchemaError, StoreError
    from waitbus_wire import is_text

    from ._cloudevents import CloudEventError, is_cloudevent, to_emit

    try:
        data = json.loads(req.body)
    except (ValueError, RecursionError) as exc:
        return error(400, f"the body is not JSON: {exc}")
    if not isinstance(data, dict):
        return error(400, 'the body must be one JSON object: {"source": ..., "event_type": ..., "fields": {...}}')
    if is_cloudevent(req.headers.get("content-type", "")):
        try:
            data = to_emit(data)
        except CloudEventError as exc:
            return error(400, f"not a CloudEvent this listener takes: {exc}")
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        return error(400, f"unknown key(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(KEYS)}")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        return error(400, f"missing {' and '.join(missing)}")
    summary = data.get("summary")
    if summary is not None and not isinstance(summary, str):
        # emit() takes summary as a str; say so instead of failing inside it
        return error(400, f"summary must be a string; got {summary!r:.80}")
    delivery_id = data.get("delivery_id")
    if isinstance(delivery_id, str) and not is_text(delivery_id):
        # A JSON "\ud800" escape decodes to a lone surrogate, which SQLite cannot store;
        # emit() checks the other keys itself.
        return error(400, "delivery_id holds a lone UTF-16 surrogate escape (\\ud800-\\udfff), which is not text")
    try:
        result = emit(**data)
    except EventError as exc:
        return error(400, str(exc))
    except (StoreError, PathError, SchemaError) as exc:
        return error(503, f"the event log cannot be written: {exc}")
    return json_response(201 if result.inserted else 200, {"event_id": result.event_id, "inserted": result.inserted})

"""What a valid event is, independent of where it comes from (SDK, CLI, HTTP)."""

from __future__ import annotations

import json
import re

from ._errors import WireError

TYPE_CHECKING = False  # not `from typing import ...`: producers' start-up pays every import
if TYPE_CHECKING:
    from typing import Any

NAME_RE = re.compile(r"^[a-z][a-z0-9_.-]{0,63}\Z")  # \Z: "$" would accept a trailing newline
MAX_SUMMARY_CHARS = 512
MAX_FIELDS_BYTES = 48 * 1024  # leaves room for the envelope inside one 64 KiB frame
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024
MAX_DELIVERY_ID_CHARS = 256
MAX_LABEL_CHARS = 200
AGENT_MESSAGE_KEYS = ("msg_to", "msg_from", "msg_correlation_id", "msg_reply_to", "msg_thread", "msg_body")


class EventError(WireError):
    """An event the bus refuses; the message names the field and the rule."""


def check_name(kind: str, value: object) -> str:
    if not isinstance(value, str) or not NAME_RE.match(value):
        raise EventError(f"{kind} must be 1-64 chars of a-z, 0-9, '_', '.', '-' starting with a letter; got {value!r}")
    return value


def check_label(kind: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_LABEL_CHARS or "\n" in value or not is_text(value):
        raise EventError(f"{kind} must be a one-line string of 1..{MAX_LABEL_CHARS} chars; got {value!r}")
    return value


def is_text(value: str) -> bool:
    """False for a str holding lone surrogates (undecodable argv, a JSON "\\ud800"
    escape): it has no UTF-8 form, so SQLite cannot store it."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False
    return True


def one_line(text: str, limit: int = MAX_SUMMARY_CHARS) -> str:
    """Collapse whitespace runs so a summary always prints on one line (and can be
    stored: a lone surrogate, from undecodable output, becomes U+FFFD)."""
    flat = " ".join(text.split())
    if not is_text(flat):
        flat = flat.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return flat if len(flat) <= limit else flat[: limit - 1] + "\u2026"


# One encoder for every event: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _to_json(value: object, what: str) -> bytes:
    """Compact UTF-8 JSON. The stdlib encoder, not msgspec: producers (`waitbus emit`)
    then never pay msgspec's ~15 ms import, and per event it costs a few microseconds
    next to a ~30 us commit. NaN/Infinity are refused: they are not JSON."""
    try:
        return _ENCODER.encode(value).encode()
    except (TypeError, ValueError, RecursionError) as exc:
        raise EventError(f"{what} are not JSON-encodable: {exc}") from None


def encode_fields(source: str, event_type: str, fields: object) -> bytes:
    """Validate and encode `fields`, adding `source` and `event_type`."""
    if fields is None:
        fields = {}
    if not isinstance(fields, dict):
        raise EventError(f"fields must be a JSON object (dict), got {type(fields).__name__}")
    for key in fields:
        if not isinstance(key, str):
            raise EventError(f"fields keys must be strings, got {key!r}")
    merged: dict[str, Any] = dict(fields)
    for key, value in (("source", source), ("event_type", event_type)):
        if key in merged and merged[key] != value:
            raise EventError(f"fields.{key}={merged[key]!r} contradicts {key}={value!r}")
        merged[key] = value
    data = _to_json(merged, "fields")
    if len(data) > MAX_FIELDS_BYTES:
        raise EventError(f"fields encode to {len(data)} bytes; the limit is {MAX_FIELDS_BYTES} (put bulk in payload)")
    return data


def encode_payload(payload: object) -> bytes | None:
    """The raw payload as stored: bytes/str kept as given, anything else as JSON."""
    if payload is None:
        return None
    if isinstance(payload, bytes):
        data = payload
    elif isinstance(payload, str):
        try:
            data = payload.encode()
        except UnicodeEncodeError:
            raise EventError("payload is a str with lone surrogates, which have no UTF-8 form; pass bytes") from None
    else:
        data = _to_json(payload, "payload")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise EventError(f"payload is {len(data)} bytes; the limit is {MAX_PAYLOAD_BYTES}")
    return data

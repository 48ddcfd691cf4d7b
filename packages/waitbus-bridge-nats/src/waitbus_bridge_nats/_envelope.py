"""One event as a NATS message: its subject, its headers and its JSON body.

The body carries everything the local log holds for the event, including the raw
payload (base64) when the message stays under the server's max_payload; the headers
carry what JetStream and the receiving bridges act on before decoding the body.
"""

from __future__ import annotations

import msgspec

from waitbus_store import Row

MSG_ID_HEADER = "Nats-Msg-Id"  # JetStream drops a second message with the same id (duplicate window)
ORIGIN_HEADER = "Waitbus-Origin"  # the publishing bus's host name (a label)
BUS_HEADER = "Waitbus-Bus"  # the publishing bus's identity: its own bridge skips it unread
BODY_VERSION = 1
_HEADROOM = 1024  # subject, headers and protocol framing, on top of the body


class Envelope(msgspec.Struct, kw_only=True, omit_defaults=True):
    """The message body (JSON). `fields` is the stored JSON text, passed through as is."""

    v: int = BODY_VERSION  # bumped only for a change an older reader would misread
    origin: str  # the publishing bus's host label
    bus: str = ""  # the publishing bus's identity (absent from bridges before it existed)
    event_id: str
    source: str
    event_type: str
    delivery_id: str
    received_at: int
    summary: str = ""
    owner: str | None = None
    repo: str | None = None
    fields: msgspec.Raw
    payload: bytes | None = None  # base64 in the JSON
    payload_omitted: bool = False  # the payload did not fit in one NATS message


_decoder = msgspec.json.Decoder(Envelope)


def subject_token(name: str) -> str:
    """A source or event type as one subject token. Names may hold dots, which NATS
    reads as token separators, so they become `~` (a character names never have)."""
    return name.replace(".", "~")


def subject_for(prefix: str, source: str, event_type: str) -> str:
    """`<prefix>.<source>.<event_type>`, for example `waitbus.pytest.pytest_session`."""
    return f"{prefix}.{subject_token(source)}.{subject_token(event_type)}"


def encode(row: Row, payload: bytes | None, *, origin: str, bus: str, max_payload: int) -> bytes:
    """The body for one stored event; the payload is left out (and said so) when the
    message would exceed the server's `max_payload`."""
    env = Envelope(
        origin=origin,
        bus=bus,
        event_id=row.event_id,
        source=row.source,
        event_type=row.event_type,
        delivery_id=row.delivery_id,
        received_at=row.received_at,
        summary=row.summary,
        owner=row.owner,
        repo=row.repo,
        fields=msgspec.Raw(row.fields.encode()),
        payload=payload,
    )
    body = msgspec.json.encode(env)
    if payload is not None and len(body) + _HEADROOM > max_payload:
        body = msgspec.json.encode(msgspec.structs.replace(env, payload=None, payload_omitted=True))
    return body


def headers_for(row: Row, origin: str, bus: str) -> dict[str, str]:
    return {MSG_ID_HEADER: row.event_id, ORIGIN_HEADER: origin, BUS_HEADER: bus}


def decode(body: bytes) -> Envelope:
    """The envelope in a message body; raises msgspec.DecodeError/ValidationError.
    Keys this version does not know are ignored, so a newer publisher may add some."""
    return _decoder.decode(body)

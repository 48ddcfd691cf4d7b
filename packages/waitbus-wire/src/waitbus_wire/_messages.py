"""The v1 broadcast messages (docs/wire.md) as msgspec Structs.

Hub -> client frames carry a string `kind`; the Structs here are tagged with it so a
frame decodes straight into its type. Keys of ours beyond v1 are optional and
omitted when unset, so a v1 client never sees a surprise and never needs to send them.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from ._errors import WireError
from ._frame import MAX_FRAME_BYTES
from ._proto import (
    DEFAULT_HEARTBEAT_SEC,
    KNOWN_KINDS,
    MAX_FILTERS,
    MAX_WHERE_CLAUSES,
    PROTO,
    SUPPORTED_PROTOS,
    ClientCodec,
)
from ._ulid import is_ulid

FILTER_RE = re.compile(r"^([A-Za-z0-9_.-]+/([A-Za-z0-9_.-]+|\*)|\*)\Z")  # \Z, not "$" (trailing newline)


class EventFrame(msgspec.Struct, frozen=True, kw_only=True, tag="event", tag_field="kind"):
    """One event as subscribers see it. `fields` always holds `source` and `event_type`."""

    event_id: str
    event_type: str
    source: str = ""
    owner: str | None = None
    repo: str | None = None
    received_at: int = 0
    delivery_id: str = ""
    summary: str = ""
    fields: dict[str, Any] = msgspec.field(default_factory=dict)


class EventFrameRaw(msgspec.Struct, frozen=True, kw_only=True, tag="event", tag_field="kind"):
    """EventFrame with `fields` kept as already-encoded JSON: the hub splices the
    stored text in without decoding and re-encoding it."""

    event_id: str
    event_type: str
    source: str
    owner: str | None
    repo: str | None
    received_at: int
    delivery_id: str
    summary: str
    fields: msgspec.Raw


class Truncated(msgspec.Struct, frozen=True, kw_only=True, tag="truncated", tag_field="kind"):
    """Stands in for an event whose frame would not fit in one frame."""

    event_id: str
    reason: str
    max_frame_bytes: int = MAX_FRAME_BYTES
    correlation_id: str | None = None


class SubscribeAck(msgspec.Struct, frozen=True, kw_only=True, tag="subscribe_ack", tag_field="kind"):
    proto: int = PROTO
    caught_up_at: str | None = None
    heartbeat_sec: int = DEFAULT_HEARTBEAT_SEC
    max_frame_bytes: int = MAX_FRAME_BYTES


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True, tag="daemon_heartbeat", tag_field="kind"):
    ts: float
    uptime_sec: float


class SubscribeRejected(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag="subscribe_rejected", tag_field="kind"
):
    reason: str
    remediation: str | None = None
    supported: list[int] | None = None


MAX_STATS_CLIENTS = 256  # hub_stats lists at most this many subscribers (keeps it one frame)


class SubscriberInfo(msgspec.Struct, frozen=True, kw_only=True):
    """One connected subscriber, as hub_stats reports it."""

    pid: int | None  # the peer process (SO_PEERCRED); None where the platform cannot say
    state: str  # "replay" or "live"
    connected_sec: float
    queued_bytes: int  # frames queued in the hub that its socket has not taken: its lag
    behind_rows: int  # rows of the log not yet offered to it (while replaying), else 0


class HubStats(msgspec.Struct, frozen=True, kw_only=True, tag="hub_stats", tag_field="kind"):
    """Our extension: the reply to a subscribe frame with `"op": "stats"`."""

    pid: int
    uptime_sec: float
    subscribers: int
    head_event_id: str | None
    events_broadcast: int
    frames_sent: int
    evictions: int
    rejected_connections: int
    # The most lagging first, at most MAX_STATS_CLIENTS; absent from older hubs.
    clients: list[SubscriberInfo] = msgspec.field(default_factory=list)


ServerMessage = EventFrame | Truncated | SubscribeAck | Heartbeat | SubscribeRejected | HubStats


class Subscribe(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The first client frame. `where` and `op` are our optional extensions:
    `where` is an OR of AND-predicates (each a list of `key=json` specs) the hub
    applies before sending, so a waiter pays only for its matches."""

    proto: int = PROTO
    filters: list[str] = msgspec.field(default_factory=lambda: ["*"])
    event_types: list[str] | None = None
    since: str | None = None
    envelope: str | None = None
    where: list[list[str]] | None = None
    op: str | None = None


class SubscribeError(WireError):
    """A subscribe frame the hub must refuse. `version` is True when the proto is
    unsupported (answered with subscribe_rejected); otherwise the hub just closes."""

    def __init__(self, message: str, *, version: bool = False) -> None:
        super().__init__(message)
        self.version = version


_sub_decoder = msgspec.json.Decoder(Subscribe)
_server_decoder = msgspec.json.Decoder(ServerMessage)
_encoder = msgspec.json.Encoder()


def decode_subscribe(body: bytes) -> Subscribe:
    """Decode and validate a subscribe frame, raising SubscribeError with the reason."""
    try:
        sub = _sub_decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecursionError) as exc:
        # msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError, and JSON
        # nested deeper than the interpreter's recursion limit as RecursionError.
        raise SubscribeError(f"malformed subscribe: {exc}") from None
    if sub.proto not in SUPPORTED_PROTOS:
        raise SubscribeError(f"unsupported proto {sub.proto}", version=True)
    if not sub.filters or len(sub.filters) > MAX_FILTERS:
        raise SubscribeError(f"filters must hold 1..{MAX_FILTERS} entries")
    for f in sub.filters:
        if not FILTER_RE.match(f):
            raise SubscribeError(f"bad filter {f!r}: use owner/repo, owner/* or *")
    if sub.event_types is not None and (
        len(sub.event_types) > MAX_FILTERS or not all(0 < len(t) <= 128 for t in sub.event_types)
    ):
        raise SubscribeError("bad event_types")
    if sub.since is not None and not is_ulid(sub.since):
        raise SubscribeError(f"since is not a ULID: {sub.since!r}")
    if sub.envelope is not None and sub.envelope != "diffs":
        raise SubscribeError(f"unknown envelope {sub.envelope!r}")
    if sub.where is not None and (not sub.where or len(sub.where) > MAX_WHERE_CLAUSES):
        raise SubscribeError(f"where must hold 1..{MAX_WHERE_CLAUSES} predicates")
    if sub.op is not None and sub.op != "stats":
        raise SubscribeError(f"unknown op {sub.op!r}")
    return sub


def decode_server_message(body: bytes) -> ServerMessage | None:
    """Decode a hub frame; None for a well-formed frame of a kind we do not know
    (clients must ignore those). Raises msgspec errors on anything malformed."""
    try:
        try:
            msg: ServerMessage = _server_decoder.decode(body)
            return msg
        except msgspec.ValidationError:
            kind = msgspec.json.decode(body, type=_KindOnly).kind
            if kind in KNOWN_KINDS:
                raise
            return None
    except (UnicodeDecodeError, RecursionError) as exc:
        # Invalid UTF-8 in a string, JSON nested too deep: malformed like any other.
        raise msgspec.DecodeError(f"malformed frame: {exc}") from None


class _KindOnly(msgspec.Struct):
    kind: str


def encode_message(msg: msgspec.Struct) -> bytes:
    """JSON body of any message (no length prefix)."""
    return _encoder.encode(msg)


# msgspec reports invalid UTF-8 inside a string as UnicodeDecodeError.
STRUCT_CODEC = ClientCodec(
    decode_server_message,
    event=EventFrame,
    truncated=Truncated,
    ack=SubscribeAck,
    rejected=SubscribeRejected,
    errors=(msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError),
)

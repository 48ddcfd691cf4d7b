"""The constants of protocol v1 (docs/wire.md) and the shape of a client codec: kept
apart from the msgspec Structs so a client that reads hub frames with the stdlib
(`_messages_json`) never imports msgspec."""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing import ...`: keeps `waitbus wait`'s start-up small
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

PROTO = 1
SUPPORTED_PROTOS = (PROTO,)
DEFAULT_HEARTBEAT_SEC = 60
MAX_FILTERS = 64
MAX_WHERE_CLAUSES = 64
# subscribe_rejected.reason for a `where` whose matching costs more than MAX_WHERE_COST
WHERE_TOO_EXPENSIVE = "where_too_expensive"
# The `kind` of every hub -> client message of ours; a client ignores any other kind.
KNOWN_KINDS = frozenset({"event", "truncated", "subscribe_ack", "daemon_heartbeat", "subscribe_rejected", "hub_stats"})


class ClientCodec:
    """How a subscriber reads hub frames: `decode(body)` gives a message (None for a
    kind to ignore) and raises one of `errors` on a malformed frame; the message
    classes it gives are named here, so the subscriber tells them apart without
    knowing which codec it has. Two exist: STRUCT_CODEC (msgspec Structs) and
    VIEW_CODEC (plain objects, stdlib json)."""

    __slots__ = ("ack", "decode", "errors", "event", "rejected", "truncated")

    def __init__(
        self,
        decode: Callable[[bytes], Any],
        *,
        event: type[Any],
        truncated: type[Any],
        ack: type[Any],
        rejected: type[Any],
        errors: tuple[type[Exception], ...],
    ) -> None:
        self.decode, self.event, self.truncated, self.ack, self.rejected = decode, event, truncated, ack, rejected
        self.errors = errors

"""waitbus-wire: the contract every waitbus process speaks.

Framing (4-byte big-endian length + JSON), the v1 hub messages, the event model and
its limits, monotonic ULIDs, the `key=json` predicate grammar, the duration grammar,
and an event's one JSON shape for every consumer.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # not `from typing import ...`: keeps `import waitbus_wire` nearly free
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._duration import MAX_DURATION_S, format_duration, parse_duration
    from ._errors import WireError
    from ._event import (
        AGENT_MESSAGE_KEYS,
        MAX_FIELDS_BYTES,
        MAX_PAYLOAD_BYTES,
        MAX_SUMMARY_CHARS,
        EventError,
        check_label,
        check_name,
        encode_fields,
        encode_payload,
        is_text,
        one_line,
    )
    from ._exit import ExitCode
    from ._frame import (
        HEADER_BYTES,
        MAX_FRAME_BYTES,
        FrameDecoder,
        FrameError,
        encode_frame,
    )
    from ._json import event_dict, event_json, iso_utc
    from ._messages import (
        FILTER_RE,
        MAX_STATS_CLIENTS,
        STRUCT_CODEC,
        EventFrame,
        EventFrameRaw,
        Heartbeat,
        HubStats,
        ServerMessage,
        Subscribe,
        SubscribeAck,
        SubscribeError,
        SubscribeRejected,
        SubscriberInfo,
        Truncated,
        decode_server_message,
        decode_subscribe,
        encode_message,
    )
    from ._messages_json import (
        VIEW_CODEC,
        EventView,
        HeartbeatView,
        MessageError,
        SubscribeAckView,
        SubscribeRejectedView,
        TruncatedView,
        decode_server_view,
        encode_subscribe,
    )
    from ._predicate import (
        MAX_SPEC_CHARS,
        MAX_SPECS,
        MAX_VALUE_DEPTH,
        MAX_WHERE_COST,
        MISSING,
        PREFIX_RE,
        Clause,
        KeyTest,
        Predicate,
        PredicateError,
        clause_specs,
        json_equal,
        lookup,
        parse_predicate,
        parse_spec,
        where_cost,
    )
    from ._proto import (
        DEFAULT_HEARTBEAT_SEC,
        MAX_WHERE_CLAUSES,
        PROTO,
        SUPPORTED_PROTOS,
        WHERE_TOO_EXPENSIVE,
        ClientCodec,
    )
    from ._ulid import (
        decode_ulid,
        is_ulid,
        next_ulid,
        ulid_floor,
        ulid_from_parts,
        ulid_time_ms,
    )

# public name -> private module; loaded on first use (PEP 562), so the ULID and
# event-limit helpers never pull in msgspec for callers that only need those.
_WHERE = {
    "MAX_DURATION_S": "._duration",
    "ExitCode": "._exit",
    "WireError": "._errors",
    "parse_duration": "._duration",
    "format_duration": "._duration",
    "AGENT_MESSAGE_KEYS": "._event",
    "MAX_FIELDS_BYTES": "._event",
    "MAX_PAYLOAD_BYTES": "._event",
    "MAX_SUMMARY_CHARS": "._event",
    "EventError": "._event",
    "check_label": "._event",
    "is_text": "._event",
    "check_name": "._event",
    "encode_fields": "._event",
    "encode_payload": "._event",
    "one_line": "._event",
    "event_dict": "._json",
    "event_json": "._json",
    "iso_utc": "._json",
    "HEADER_BYTES": "._frame",
    "MAX_FRAME_BYTES": "._frame",
    "FrameDecoder": "._frame",
    "FrameError": "._frame",
    "encode_frame": "._frame",
    "DEFAULT_HEARTBEAT_SEC": "._proto",
    "FILTER_RE": "._messages",
    "PROTO": "._proto",
    "SUPPORTED_PROTOS": "._proto",
    "ClientCodec": "._proto",
    "STRUCT_CODEC": "._messages",
    "EventFrame": "._messages",
    "EventFrameRaw": "._messages",
    "Heartbeat": "._messages",
    "HubStats": "._messages",
    "MAX_STATS_CLIENTS": "._messages",
    "MAX_WHERE_CLAUSES": "._proto",
    "WHERE_TOO_EXPENSIVE": "._proto",
    "ServerMessage": "._messages",
    "Subscribe": "._messages",
    "SubscribeAck": "._messages",
    "SubscribeError": "._messages",
    "SubscribeRejected": "._messages",
    "SubscriberInfo": "._messages",
    "Truncated": "._messages",
    "decode_server_message": "._messages",
    "decode_subscribe": "._messages",
    "encode_message": "._messages",
    "VIEW_CODEC": "._messages_json",
    "EventView": "._messages_json",
    "HeartbeatView": "._messages_json",
    "MessageError": "._messages_json",
    "SubscribeAckView": "._messages_json",
    "SubscribeRejectedView": "._messages_json",
    "TruncatedView": "._messages_json",
    "decode_server_view": "._messages_json",
    "encode_subscribe": "._messages_json",
    "MAX_SPEC_CHARS": "._predicate",
    "MAX_SPECS": "._predicate",
    "MAX_VALUE_DEPTH": "._predicate",
    "MAX_WHERE_COST": "._predicate",
    "MISSING": "._predicate",
    "Clause": "._predicate",
    "KeyTest": "._predicate",
    "PREFIX_RE": "._predicate",
    "clause_specs": "._predicate",
    "Predicate": "._predicate",
    "PredicateError": "._predicate",
    "json_equal": "._predicate",
    "lookup": "._predicate",
    "parse_predicate": "._predicate",
    "parse_spec": "._predicate",
    "where_cost": "._predicate",
    "decode_ulid": "._ulid",
    "is_ulid": "._ulid",
    "next_ulid": "._ulid",
    "ulid_floor": "._ulid",
    "ulid_from_parts": "._ulid",
    "ulid_time_ms": "._ulid",
}

__all__ = [
    "AGENT_MESSAGE_KEYS",
    "ClientCodec",
    "EventView",
    "HeartbeatView",
    "MessageError",
    "STRUCT_CODEC",
    "SubscribeAckView",
    "SubscribeRejectedView",
    "TruncatedView",
    "VIEW_CODEC",
    "decode_server_view",
    "encode_subscribe",
    "Clause",
    "DEFAULT_HEARTBEAT_SEC",
    "EventError",
    "EventFrame",
    "EventFrameRaw",
    "ExitCode",
    "FILTER_RE",
    "FrameDecoder",
    "FrameError",
    "HEADER_BYTES",
    "Heartbeat",
    "HubStats",
    "KeyTest",
    "MAX_DURATION_S",
    "MAX_FIELDS_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_PAYLOAD_BYTES",
    "MAX_SPECS",
    "MAX_SPEC_CHARS",
    "MAX_STATS_CLIENTS",
    "MAX_SUMMARY_CHARS",
    "MAX_VALUE_DEPTH",
    "MAX_WHERE_COST",
    "MAX_WHERE_CLAUSES",
    "WHERE_TOO_EXPENSIVE",
    "MISSING",
    "PREFIX_RE",
    "PROTO",
    "Predicate",
    "PredicateError",
    "SUPPORTED_PROTOS",
    "ServerMessage",
    "Subscribe",
    "SubscribeAck",
    "SubscribeError",
    "SubscribeRejected",
    "SubscriberInfo",
    "Truncated",
    "WireError",
    "check_label",
    "check_name",
    "clause_specs",
    "decode_server_message",
    "decode_subscribe",
    "decode_ulid",
    "encode_fields",
    "event_dict",
    "event_json",
    "format_duration",
    "encode_frame",
    "encode_message",
    "encode_payload",
    "is_text",
    "iso_utc",
    "is_ulid",
    "json_equal",
    "lazy_exports",
    "lookup",
    "next_ulid",
    "one_line",
    "parse_duration",
    "parse_predicate",
    "parse_spec",
    "where_cost",
    "ulid_floor",
    "ulid_from_parts",
    "ulid_time_ms",
]


# The one PEP 562 mechanism of every waitbus package (defined here, not in a module of
# its own, so using it costs `import waitbus` no extra import).
def lazy_exports(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Return a package's `__getattr__` and `__dir__` for `where` (name -> module).

    A module is absolute (`"waitbus_wire"`) or relative to `package` (`"._event"`).
    A loaded name is stored in the package, so later lookups skip `__getattr__`.
    """

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = package + module if module.startswith(".") else module
        __import__(full)  # not importlib.import_module: `importlib` costs a short process ~0.3 ms
        value = getattr(sys.modules[full], name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

"""The hub messages a subscriber acts on, read and written with the stdlib json module.

`waitbus wait` reads an ack and perhaps one event, then exits: importing msgspec for
that (with typing_extensions, inspect, uuid and decimal, ~25 ms) would be most of its
run. Here each message is a plain read-only object with the attributes of its msgspec
Struct in _messages, which stays the definition; this decoder accepts and refuses
what that one does, and tests/wire/test_wire_messages_json.py holds the two to it.
"""

from __future__ import annotations

import json

from ._errors import WireError
from ._event import is_text
from ._frame import MAX_FRAME_BYTES
from ._proto import DEFAULT_HEARTBEAT_SEC, PROTO, ClientCodec

TYPE_CHECKING = False  # not `from typing import ...`: see the module docstring
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    Check = Callable[[Any], bool]


class MessageError(WireError):
    """A hub frame that is not a well-formed v1 message (as msgspec's DecodeError or
    ValidationError is for the Structs); the connection must be closed."""


_REQUIRED = object()  # a field with no default
_EMPTY_DICT = object()  # a default of a new {} per message


def _str(v: Any) -> bool:
    return isinstance(v, str)


def _opt_str(v: Any) -> bool:
    return v is None or isinstance(v, str)


def _int(v: Any) -> bool:
    return type(v) is int  # not bool, not float: msgspec is as strict


def _number(v: Any) -> bool:
    return type(v) is int or type(v) is float  # a `float` field takes an int, as msgspec does


def _dict(v: Any) -> bool:
    return isinstance(v, dict)


def _opt_int_list(v: Any) -> bool:
    return v is None or (isinstance(v, list) and all(_int(x) for x in v))


class _View:
    """Plain, read-only, compared by value; `_fields` lists (name, check, default)."""

    __slots__ = ()
    kind: str
    _fields: tuple[tuple[str, Check, object], ...]

    def __init__(self, **values: Any) -> None:
        unknown = set(values) - {name for name, _, _ in self._fields}
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field {sorted(unknown)[0]!r}")
        self._fill(values)

    def _fill(self, data: dict[str, Any]) -> None:
        for name, check, default in self._fields:
            value = data.get(name, default)
            if value is _REQUIRED:
                raise MessageError(f"{self.kind} message missing required field `{name}`")
            if value is _EMPTY_DICT:
                value = {}
            elif not check(value):
                raise MessageError(f"{self.kind} message: bad `{name}`: {value!r}")
            elif check is _number:
                value = float(value)
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is read-only")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and all(
            getattr(self, name) == getattr(other, name) for name, _, _ in self._fields
        )

    __hash__ = None  # type: ignore[assignment]  # compared by value, and `fields` is a dict

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={getattr(self, name)!r}" for name, _, _ in self._fields)
        return f"{type(self).__name__}({inner})"


class EventView(_View):
    """An event as EventFrame has it. `__struct_fields__` lets the predicate grammar's
    lookup() descend into it as it does into the Struct."""

    __slots__ = ("delivery_id", "event_id", "event_type", "fields", "owner", "received_at", "repo", "source", "summary")
    kind = "event"
    _fields = (
        ("event_id", _str, _REQUIRED),
        ("event_type", _str, _REQUIRED),
        ("source", _str, ""),
        ("owner", _opt_str, None),
        ("repo", _opt_str, None),
        ("received_at", _int, 0),
        ("delivery_id", _str, ""),
        ("summary", _str, ""),
        ("fields", _dict, _EMPTY_DICT),
    )
    __struct_fields__ = tuple(name for name, _, _ in _fields)
    event_id: str
    event_type: str
    source: str
    owner: str | None
    repo: str | None
    received_at: int
    delivery_id: str
    summary: str
    fields: dict[str, Any]


class TruncatedView(_View):
    __slots__ = ("correlation_id", "event_id", "max_frame_bytes", "reason")
    kind = "truncated"
    _fields = (
        ("event_id", _str, _REQUIRED),
        ("reason", _str, _REQUIRED),
        ("max_frame_bytes", _int, MAX_FRAME_BYTES),
        ("correlation_id", _opt_str, None),
    )
    event_id: str
    reason: str
    max_frame_bytes: int
    correlation_id: str | None


class SubscribeAckView(_View):
    __slots__ = ("caught_up_at", "heartbeat_sec", "max_frame_bytes", "proto")
    kind = "subscribe_ack"
    _fields = (
        ("proto", _int, PROTO),
        ("caught_up_at", _opt_str, None),
        ("heartbeat_sec", _int, DEFAULT_HEARTBEAT_SEC),
        ("max_frame_bytes", _int, MAX_FRAME_BYTES),
    )
    proto: int
    caught_up_at: str | None
    heartbeat_sec: int
    max_frame_bytes: int


class HeartbeatView(_View):
    __slots__ = ("ts", "uptime_sec")
    kind = "daemon_heartbeat"
    _fields = (("ts", _number, _REQUIRED), ("uptime_sec", _number, _REQUIRED))
    ts: float
    uptime_sec: float


class SubscribeRejectedView(_View):
    __slots__ = ("reason", "remediation", "supported")
    kind = "subscribe_rejected"
    _fields = (("reason", _str, _REQUIRED), ("remediation", _opt_str, None), ("supported", _opt_int_list, None))
    reason: str
    remediation: str | None
    supported: list[int] | None


_VIEWS: dict[str, type[_View]] = {
    cls.kind: cls for cls in (EventView, TruncatedView, SubscribeAckView, HeartbeatView, SubscribeRejectedView)
}


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number out of range: {text}")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _all_text(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not is_text(item):
                return False
        elif isinstance(item, dict):
            stack.extend(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


def decode_server_view(body: bytes) -> _View | None:
    """Decode a hub frame as decode_server_message does, into a view; None for
    `hub_stats` and kinds we do not know (a subscriber ignores them). Raises
    MessageError on anything malformed."""
    try:
        text = body.decode()  # strict UTF-8, as msgspec reads it
        data = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise MessageError(f"malformed frame: {exc}") from None
    if not isinstance(data, dict):
        raise MessageError(f"a hub message is a JSON object, got {type(data).__name__}")
    # Only a \u escape can give json.loads a lone surrogate, a str with no UTF-8 form
    # that msgspec refuses; bodies without one (nearly all) skip the walk.
    if "\\u" in text and not _all_text(data):
        raise MessageError("malformed frame: a string holds a lone UTF-16 surrogate")
    kind = data.get("kind")
    if not isinstance(kind, str):
        raise MessageError("a hub message needs a string `kind`")
    cls = _VIEWS.get(kind)
    if cls is None:
        return None
    view = cls.__new__(cls)
    view._fill(data)
    return view


def encode_subscribe(since: str | None = None, where: list[list[str]] | None = None) -> bytes:
    """The JSON body of `Subscribe(since=since, where=where)`, byte for byte as
    encode_message() writes it (defaults omitted but `filters`, whose default msgspec
    cannot compare)."""
    body: dict[str, Any] = {"filters": ["*"]}
    if since is not None:
        body["since"] = since
    if where is not None:
        body["where"] = where
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


VIEW_CODEC = ClientCodec(
    decode_server_view,
    event=EventView,
    truncated=TruncatedView,
    ack=SubscribeAckView,
    rejected=SubscribeRejectedView,
    errors=(MessageError,),
)

"""The stdlib-json reader of hub messages (`decode_server_view`, for `waitbus wait`)
against the msgspec one (`decode_server_message`): the same frames accepted, the same
values read, the same frames refused; and `encode_subscribe` writes the bytes
`encode_message(Subscribe(...))` does."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_wire import (
    STRUCT_CODEC,
    VIEW_CODEC,
    EventFrame,
    EventView,
    Heartbeat,
    HubStats,
    MessageError,
    Subscribe,
    SubscribeAck,
    SubscribeRejected,
    Truncated,
    decode_server_message,
    decode_server_view,
    encode_message,
    encode_subscribe,
    lookup,
    parse_predicate,
)

ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
STRUCT_OF = {codec_cls: struct_cls for codec_cls, struct_cls in zip(
    (VIEW_CODEC.event, VIEW_CODEC.truncated, VIEW_CODEC.ack, VIEW_CODEC.rejected),
    (STRUCT_CODEC.event, STRUCT_CODEC.truncated, STRUCT_CODEC.ack, STRUCT_CODEC.rejected),
    strict=True,
)}  # fmt: skip


def same(view: Any, struct: msgspec.Struct) -> None:
    """Every field of the Struct, with its value and type, is on the view (and no more)."""
    names = struct.__struct_fields__
    assert tuple(name for name, _, _ in view._fields) == names
    assert view.kind == struct.__struct_config__.tag
    for name in names:
        mine, theirs = getattr(view, name), getattr(struct, name)
        assert mine == theirs and type(mine) is type(theirs), name


MESSAGES = [
    SubscribeAck(),
    SubscribeAck(caught_up_at=ULID, heartbeat_sec=5, max_frame_bytes=1024, proto=1),
    Truncated(event_id=ULID, reason="big"),
    Truncated(event_id=ULID, reason="big", max_frame_bytes=10, correlation_id="c"),
    Heartbeat(ts=1.0, uptime_sec=2.5),
    SubscribeRejected(reason="version", supported=[1], remediation="upgrade"),
    SubscribeRejected(reason="where_too_expensive"),
    EventFrame(event_id=ULID, event_type="t"),
    EventFrame(
        event_id=ULID,
        event_type="workflow_run",
        source="github",
        owner="acme",
        repo="app",
        received_at=1_700_000_000_123_456_789,
        delivery_id="d-1",
        summary="héllo \u2028 <tab>\t",
        fields={"a": [1, {"b": None}], "f": 1e20, "g": -0.0, "big": 2**70, "s": "\x00\x7f😀", "t": True},
    ),
]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: type(m).__name__)
def test_both_decoders_read_every_kind_alike(msg: msgspec.Struct) -> None:
    body = encode_message(msg)
    struct = decode_server_message(body)
    view = decode_server_view(body)
    assert type(struct) is type(msg) and view is not None
    assert STRUCT_OF.get(type(view), Heartbeat) is type(msg)
    same(view, msg)


@pytest.mark.parametrize(
    "body",
    [
        b'{"kind":"daemon_heartbeat","ts":1,"uptime_sec":2,"load":0.5}',  # int for float, an unknown key
        b'{"uptime_sec":2,"ts":1.5,"kind":"daemon_heartbeat"}',  # kind last
        b'{"kind":"event","event_id":"' + ULID.encode() + b'","event_type":"t"}',  # every default
        b'  {"kind":"subscribe_ack","caught_up_at":null}\n',
        b'{"kind":"subscribe_ack","proto":18446744073709551616}',  # any size of int
        b'{"kind":"subscribe_rejected","reason":"x","supported":null}',
        b'{"kind":"event","event_id":"e","event_type":"t","fields":{"a":1,"a":2}}',  # the last key wins
        b'{"kind":"event","event_id":"e","event_type":"t","fields":{"s":"\\ud83d\\ude00","n":1e-400}}',
    ],
)
def test_both_decoders_read_hand_written_frames_alike(body: bytes) -> None:
    struct = decode_server_message(body)
    assert isinstance(struct, msgspec.Struct)
    same(decode_server_view(body), struct)


@pytest.mark.parametrize(
    "body",
    [
        b'{"kind":"from_the_future","x":1}',
        b'{"kind":"event_v2"}',
    ],
)
def test_both_ignore_a_kind_they_do_not_know(body: bytes) -> None:
    assert decode_server_message(body) is None
    assert decode_server_view(body) is None


def test_hub_stats_is_not_for_subscribers() -> None:
    body = b'{"kind":"hub_stats","pid":1,"uptime_sec":1.0,"subscribers":0,"head_event_id":null,'
    body += b'"events_broadcast":0,"frames_sent":0,"evictions":0,"rejected_connections":0}'
    assert isinstance(decode_server_message(body), HubStats)
    assert decode_server_view(body) is None  # a subscriber ignores it either way


@pytest.mark.parametrize(
    "body",
    [
        b'{"kind":"subscribe_ack","proto":"one"}',  # known kind, wrong type
        b'{"kind":"subscribe_ack","proto":true}',  # a bool is not an int
        b'{"kind":"subscribe_ack","heartbeat_sec":1.0}',  # nor is a float
        b'{"kind":"daemon_heartbeat","ts":true,"uptime_sec":1}',
        b'{"kind":"event"}',  # missing event_id
        b'{"kind":"event","event_id":"e","event_type":"t","fields":[]}',
        b'{"kind":"event","event_id":"e","event_type":"t","owner":1}',
        b'{"kind":"event","event_id":"e","event_type":"t","fields":{"n":NaN}}',
        b'{"kind":"event","event_id":"e","event_type":"t","fields":{"n":1e400}}',
        b'{"kind":"event","event_id":"e","event_type":"t","fields":{"s":"\\ud800"}}',  # a lone surrogate
        b'{"kind":"truncated","event_id":"e"}',
        b'{"kind":"subscribe_rejected","reason":"x","supported":[1.5]}',
        b'{"kind":"event","event_id":"\xff","event_type":"t"}',  # not UTF-8
        b'{"no_kind":1}',
        b'{"kind":7}',
        b"[]",
        b'"event"',
        b"{",
        b"",
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the interpreter recurses
    ],
)
def test_both_refuse_a_malformed_frame(body: bytes) -> None:
    with pytest.raises(STRUCT_CODEC.errors):
        decode_server_message(body)
    with pytest.raises(MessageError):
        decode_server_view(body)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)  # fmt: skip


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    fields=st.dictionaries(st.text(max_size=6), json_values, max_size=4),
    summary=st.text(max_size=12),
    owner=st.none() | st.text(max_size=5),
    received_at=st.integers(0, 2**63 - 1),
)
def test_both_decoders_read_any_event_alike(
    fields: dict[str, Any], summary: str, owner: str | None, received_at: int
) -> None:
    frame = EventFrame(
        event_id=ULID, event_type="t", source="s", owner=owner, summary=summary, received_at=received_at, fields=fields
    )
    same(decode_server_view(encode_message(frame)), frame)


@pytest.mark.parametrize("since", [None, ULID])
@pytest.mark.parametrize("where", [None, [['source="x"', 'fields.s="é\\u0000\\n"']], [["a=1"], ["b=[1,2]"]]])
def test_encode_subscribe_writes_the_struct_encoding(since: str | None, where: list[list[str]] | None) -> None:
    assert encode_subscribe(since=since, where=where) == encode_message(Subscribe(since=since, where=where))
    assert json.loads(encode_subscribe(since=since, where=where)) == msgspec.to_builtins(
        Subscribe(since=since, where=where)
    )


def test_an_event_view_is_read_only_compared_by_value_and_matched_like_the_frame() -> None:
    body = encode_message(EventFrame(event_id=ULID, event_type="t", source="s", fields={"a": {"b": [1, 2]}}))
    view, frame = decode_server_view(body), decode_server_message(body)
    assert isinstance(view, EventView) and view == decode_server_view(body)
    with pytest.raises(AttributeError):
        view.source = "other"  # type: ignore[misc]
    for spec in ('source="s"', "fields.a.b.1=2", "fields.a.b=[1,2]", "event_type=1", "fields.zz=1"):
        predicate = parse_predicate(spec)
        assert predicate.matches(view) == predicate.matches(frame), spec
    assert lookup(view, ("fields", "a", "b", "0")) == 1
    assert EventView(event_id="e", event_type="t") == EventView(event_id="e", event_type="t", fields={})
    with pytest.raises(TypeError, match="no field 'nope'"):
        EventView(event_id="e", event_type="t", nope=1)

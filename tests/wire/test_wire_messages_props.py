"""Properties of the v1 message decoders: whatever bytes arrive, `decode_subscribe`
raises only SubscribeError and `decode_server_message` only msgspec's errors (or
returns None for an unknown kind), and every well-formed message survives a round trip."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_wire import (
    MAX_FRAME_BYTES,
    EventFrame,
    Heartbeat,
    HubStats,
    Subscribe,
    SubscribeAck,
    SubscribeError,
    SubscribeRejected,
    Truncated,
    decode_server_message,
    decode_subscribe,
    encode_message,
)

PROPS = settings(max_examples=300, deadline=None, derandomize=True)
SUBSCRIBE_KEYS = ("proto", "filters", "event_types", "since", "envelope", "where", "op")
SERVER_KINDS = ("event", "truncated", "subscribe_ack", "daemon_heartbeat", "subscribe_rejected", "hub_stats")


def json_values(scalars: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=16,
    )


JSON = json_values(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20))
# What a frame can carry both ways: 64-bit integers, finite floats (msgspec writes inf as null).
WIRE_JSON = json_values(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
ULID = st.from_regex(r"[0-7][0-9A-HJKMNP-TV-Z]{25}", fullmatch=True)
NAME = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True)
FILTER = st.just("*") | st.builds(lambda o, r: f"{o}/{r}", NAME, NAME | st.just("*"))
SPEC = st.builds(
    lambda k, v: f"{k}={json.dumps(v)}", st.from_regex(r"[a-z]{1,6}(\.[a-z0-9]{1,4}){0,2}", fullmatch=True), JSON
)


# Deeper than the interpreter's default recursion limit (1000): msgspec counts its levels
# against it, so this depth is where a decoder used to raise RecursionError.
PAST_STACK = 2000


def _invalid(data: bytes) -> bool:
    try:
        data.decode()
    except UnicodeDecodeError:
        return True
    return False


# Bytes that are not UTF-8 and hold no quote or backslash (they stay inside one JSON string).
INVALID_UTF8 = st.binary(min_size=1, max_size=6).filter(lambda b: _invalid(b) and not set(b) & set(b'"\\'))


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _subscribe_or_error(body: bytes) -> Subscribe | None:
    try:
        return decode_subscribe(body)
    except SubscribeError as exc:
        assert str(exc)  # always says why
        return None


@PROPS
@given(st.binary(max_size=300))
def test_any_bytes_decode_to_a_subscribe_or_a_subscribe_error(body: bytes) -> None:
    _subscribe_or_error(body)


@PROPS
@given(st.dictionaries(st.sampled_from(SUBSCRIBE_KEYS) | st.text(max_size=6), JSON, max_size=6))
def test_any_json_object_with_wrongly_typed_keys_is_a_subscribe_or_a_subscribe_error(obj: dict[str, Any]) -> None:
    sub = _subscribe_or_error(json.dumps(obj).encode())
    if sub is not None:  # accepted: then every documented rule holds
        assert sub.proto == 1
        assert 1 <= len(sub.filters) <= 64
        assert sub.envelope in (None, "diffs") and sub.op in (None, "stats")


@PROPS
@given(
    st.sampled_from((*SUBSCRIBE_KEYS, "unknown")),
    st.integers(min_value=PAST_STACK, max_value=MAX_FRAME_BYTES // 2 - 20),
)
def test_json_nested_past_the_stack_is_a_subscribe_error_at_any_key(key: str, depth: int) -> None:
    body = b'{"%s":%s}' % (key.encode(), deep(depth))
    with pytest.raises(SubscribeError) as info:
        decode_subscribe(body)
    assert info.value.version is False


@PROPS
@given(INVALID_UTF8, st.sampled_from(SUBSCRIBE_KEYS))
def test_invalid_utf8_inside_any_string_is_a_subscribe_error(junk: bytes, key: str) -> None:
    value = b'["%s"]' % junk if key in ("filters", "event_types") else b'"%s"' % junk
    with pytest.raises(SubscribeError):
        decode_subscribe(b'{"%s":%s}' % (key.encode(), value))


@PROPS
@given(
    st.fixed_dictionaries(
        {},
        optional={
            "filters": st.lists(FILTER, min_size=1, max_size=5),
            "event_types": st.lists(st.text(min_size=1, max_size=20), max_size=5),
            "since": ULID,
            "envelope": st.just("diffs"),
            "where": st.lists(st.lists(SPEC, max_size=3), min_size=1, max_size=3),
            "op": st.just("stats"),
        },
    )
)
def test_valid_subscribes_round_trip(obj: dict[str, Any]) -> None:
    sub = decode_subscribe(json.dumps({"proto": 1, **obj}).encode())
    for key, value in obj.items():
        assert getattr(sub, key) == value
    # Our own encoder writes what the decoder reads back.
    assert decode_subscribe(msgspec.json.encode(sub)) == sub


@PROPS
@given(st.integers().filter(lambda n: n != 1))
def test_any_other_integer_proto_is_a_version_error(proto: int) -> None:
    with pytest.raises(SubscribeError) as info:
        decode_subscribe(json.dumps({"proto": proto}).encode())
    assert info.value.version is True


# -- hub -> client -----------------------------------------------------------------------------

BAD_FRAME = (msgspec.DecodeError, msgspec.ValidationError)


def _server_or_error(body: bytes) -> None:
    try:
        decode_server_message(body)
    except BAD_FRAME:
        pass


@PROPS
@given(st.binary(max_size=300))
def test_any_bytes_decode_to_a_server_message_none_or_a_msgspec_error(body: bytes) -> None:
    _server_or_error(body)


@PROPS
@given(st.sampled_from(SERVER_KINDS) | st.text(max_size=10), st.dictionaries(st.text(max_size=12), JSON, max_size=6))
def test_known_and_unknown_kinds_with_any_keys_never_raise_anything_else(kind: str, obj: dict[str, Any]) -> None:
    _server_or_error(json.dumps({**obj, "kind": kind}).encode())


@PROPS
@given(st.sampled_from(SERVER_KINDS), st.integers(min_value=PAST_STACK, max_value=MAX_FRAME_BYTES // 2 - 40))
def test_deep_json_in_a_server_frame_is_a_decode_error(kind: str, depth: int) -> None:
    with pytest.raises(msgspec.DecodeError):
        decode_server_message(b'{"kind":"%s","fields":%s}' % (kind.encode(), deep(depth)))


@PROPS
@given(st.sampled_from(("event", "truncated")), INVALID_UTF8, st.booleans())
def test_invalid_utf8_in_a_server_frame_is_a_decode_error(kind: str, junk: bytes, in_kind: bool) -> None:
    body = b'{"kind":"%s","event_id":"%s","event_type":"t","reason":"r"}' % (
        (junk, b"01ARZ3NDEKTSV4RRFFQ69G5FAV") if in_kind else (kind.encode(), junk)
    )
    with pytest.raises(BAD_FRAME):
        decode_server_message(body)


TEXT = st.text(max_size=30)
OPT_TEXT = st.none() | TEXT
INT = st.integers(min_value=0, max_value=2**62)
FLOAT = st.floats(allow_nan=False, allow_infinity=False)
SERVER_MESSAGES = st.one_of(
    st.builds(
        EventFrame,
        event_id=ULID,
        event_type=TEXT,
        source=TEXT,
        owner=OPT_TEXT,
        repo=OPT_TEXT,
        received_at=INT,
        delivery_id=TEXT,
        summary=TEXT,
        fields=st.dictionaries(st.text(max_size=8), WIRE_JSON, max_size=4),
    ),
    st.builds(Truncated, event_id=ULID, reason=TEXT, max_frame_bytes=INT, correlation_id=OPT_TEXT),
    st.builds(SubscribeAck, proto=INT, caught_up_at=st.none() | ULID, heartbeat_sec=INT, max_frame_bytes=INT),
    st.builds(Heartbeat, ts=FLOAT, uptime_sec=FLOAT),
    st.builds(SubscribeRejected, reason=TEXT, remediation=OPT_TEXT, supported=st.none() | st.lists(INT, max_size=3)),
    st.builds(
        HubStats,
        pid=INT,
        uptime_sec=FLOAT,
        subscribers=INT,
        head_event_id=st.none() | ULID,
        events_broadcast=INT,
        frames_sent=INT,
        evictions=INT,
        rejected_connections=INT,
    ),
)


@PROPS
@given(SERVER_MESSAGES)
def test_every_server_message_round_trips(msg: msgspec.Struct) -> None:
    assert decode_server_message(encode_message(msg)) == msg

"""The v1 messages: the subscribe frame a client sends and every hub -> client kind."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from waitbus_wire import (
    DEFAULT_HEARTBEAT_SEC,
    FILTER_RE,
    MAX_FRAME_BYTES,
    PROTO,
    SUPPORTED_PROTOS,
    EventFrame,
    EventFrameRaw,
    Heartbeat,
    HubStats,
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

ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def sub(**kw: object) -> bytes:
    return json.dumps(kw).encode()


def test_protocol_constants() -> None:
    assert PROTO == 1
    assert SUPPORTED_PROTOS == (1,)
    assert DEFAULT_HEARTBEAT_SEC == 60


# -- subscribe -------------------------------------------------------------------------


def test_wire_v1_example_is_accepted() -> None:
    body = (
        b'{"proto": 1, "filters": ["owner/repo", "owner/*", "*"], "event_types": ["workflow_run"],'
        b' "since": "' + ULID.encode() + b'", "envelope": "diffs"}'
    )
    s = decode_subscribe(body)
    assert s.proto == 1
    assert s.filters == ["owner/repo", "owner/*", "*"]
    assert s.event_types == ["workflow_run"]
    assert s.since == ULID
    assert s.envelope == "diffs"
    assert s.where is None
    assert s.op is None


def test_empty_object_gets_the_defaults() -> None:
    s = decode_subscribe(b"{}")
    assert s == Subscribe(proto=1, filters=["*"], event_types=None, since=None, envelope=None)


def test_unknown_extra_keys_are_ignored() -> None:
    s = decode_subscribe(sub(filters=["a/b"], future_key={"x": 1}, another=[1, 2]))
    assert s.filters == ["a/b"]


def test_extensions_where_and_op() -> None:
    s = decode_subscribe(sub(where=[['fields.status="completed"', "fields.run_id=42"], ['source="pytest"']]))
    assert s.where == [['fields.status="completed"', "fields.run_id=42"], ['source="pytest"']]
    assert decode_subscribe(sub(op="stats")).op == "stats"


def test_subscribe_encodes_without_unset_extensions() -> None:
    # A client built on our Struct never sends keys a v1 hub would not know.
    assert json.loads(encode_message(Subscribe(since=ULID))) == {"filters": ["*"], "since": ULID}
    assert json.loads(encode_message(Subscribe(filters=["o/r"], op="stats"))) == {"filters": ["o/r"], "op": "stats"}
    assert decode_subscribe(encode_message(Subscribe(since=ULID, where=[["a=1"]]))) == Subscribe(
        since=ULID, where=[["a=1"]]
    )


@pytest.mark.parametrize("proto", [0, 2, 99, -1])
def test_unsupported_proto_sets_the_version_flag(proto: int) -> None:
    with pytest.raises(SubscribeError, match=f"unsupported proto {proto}") as info:
        decode_subscribe(sub(proto=proto))
    assert info.value.version is True


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"",
        b"[1, 2]",
        b'"a string"',
        b"\xff\xfe",
        b'{"filters": ["\xff"]}',  # invalid UTF-8 inside a string
        b'{"since": "\xc3"}',
        sub(proto="1"),
        sub(proto=1.0),
        sub(proto=True),
        sub(proto=None),
        sub(filters=[]),
        sub(filters="owner/repo"),
        sub(filters=["owner"]),
        sub(filters=["owner/repo/extra"]),
        sub(filters=["*/repo"]),
        sub(filters=["owner/re po"]),
        sub(filters=["owner/repo\n"]),
        sub(filters=["a/b"] * 65),
        sub(filters=[1]),
        sub(event_types=[""]),
        sub(event_types=["x" * 129]),
        sub(event_types=["t"] * 65),
        sub(since="not-a-ulid"),
        sub(since=ULID.lower()),
        sub(since=ULID + "\n"),
        sub(since="8" + ULID[1:]),
        sub(since=12),
        sub(envelope="full"),
        sub(envelope=""),
        sub(where=[]),
        sub(where=[["a=1"]] * 65),
        sub(where=["a=1"]),
        sub(op="delete"),
    ],
)
def test_malformed_subscribe_is_refused_without_version_flag(body: bytes) -> None:
    with pytest.raises(SubscribeError) as info:
        decode_subscribe(body)
    assert info.value.version is False


def test_error_messages_name_the_problem() -> None:
    with pytest.raises(SubscribeError, match=r"bad filter 'owner'.*owner/repo, owner/\* or \*"):
        decode_subscribe(sub(filters=["owner"]))
    with pytest.raises(SubscribeError, match="since is not a ULID"):
        decode_subscribe(sub(since="x"))
    with pytest.raises(SubscribeError, match="unknown envelope 'full'"):
        decode_subscribe(sub(envelope="full"))
    with pytest.raises(SubscribeError, match="unknown op 'delete'"):
        decode_subscribe(sub(op="delete"))
    with pytest.raises(SubscribeError, match="malformed subscribe"):
        decode_subscribe(b"{")


def test_bounds_that_are_accepted() -> None:
    s = decode_subscribe(sub(filters=["a/b"] * 64, event_types=["x" * 128] * 64, where=[["a=1"]] * 64))
    assert len(s.filters) == 64
    assert s.event_types is not None
    assert len(s.event_types) == 64
    assert s.where is not None
    assert len(s.where) == 64


@pytest.mark.parametrize("f", ["*", "o/*", "o/r", "Owner.x/Re_po-1", "a.b-c_d/e.f"])
def test_filter_regex_accepts(f: str) -> None:
    assert FILTER_RE.match(f)


@pytest.mark.parametrize("f", ["", "o", "o/", "/r", "*/*", "o/r/x", "o r/x", "o/r\n", "**"])
def test_filter_regex_refuses(f: str) -> None:
    assert not FILTER_RE.match(f)


# -- hub -> client ---------------------------------------------------------------------


def keys(msg: msgspec.Struct) -> list[str]:
    return list(json.loads(encode_message(msg)))


def test_subscribe_ack_keys_and_values() -> None:
    body = encode_message(SubscribeAck(caught_up_at=None))
    assert json.loads(body) == {
        "kind": "subscribe_ack",
        "proto": 1,
        "caught_up_at": None,
        "heartbeat_sec": 60,
        "max_frame_bytes": 65536,
    }
    assert body.startswith(b'{"kind":"subscribe_ack"')
    assert json.loads(encode_message(SubscribeAck(caught_up_at=ULID, heartbeat_sec=5)))["caught_up_at"] == ULID


def test_event_frame_keys() -> None:
    frame = EventFrame(
        event_id=ULID,
        event_type="workflow_run",
        source="github",
        owner="o",
        repo="r",
        received_at=1_700_000_000_000_000_000,
        delivery_id="d-1",
        summary="run 1 completed",
        fields={"source": "github", "event_type": "workflow_run", "run_id": 1},
    )
    assert keys(frame) == [
        "kind",
        "event_id",
        "event_type",
        "source",
        "owner",
        "repo",
        "received_at",
        "delivery_id",
        "summary",
        "fields",
    ]
    assert json.loads(encode_message(frame))["kind"] == "event"


def test_event_frame_raw_splices_fields_and_matches_event_frame() -> None:
    common: dict[str, Any] = {
        "event_id": ULID,
        "event_type": "t",
        "source": "s",
        "owner": None,
        "repo": None,
        "received_at": 5,
        "delivery_id": "d",
        "summary": "",
    }
    fields_text = '{"source":"s","event_type":"t","n":[1,2]}'
    raw = encode_message(EventFrameRaw(**common, fields=msgspec.Raw(fields_text.encode())))
    assert fields_text.encode() in raw  # spliced verbatim, not re-encoded
    cooked = encode_message(EventFrame(**common, fields=json.loads(fields_text)))
    assert json.loads(raw) == json.loads(cooked)
    assert decode_server_message(raw) == EventFrame(**common, fields=json.loads(fields_text))


def test_truncated_keys() -> None:
    assert json.loads(encode_message(Truncated(event_id=ULID, reason="event frame is 70000 bytes"))) == {
        "kind": "truncated",
        "event_id": ULID,
        "reason": "event frame is 70000 bytes",
        "max_frame_bytes": MAX_FRAME_BYTES,
        "correlation_id": None,
    }


def test_heartbeat_keys() -> None:
    assert json.loads(encode_message(Heartbeat(ts=1700000000.5, uptime_sec=12.25))) == {
        "kind": "daemon_heartbeat",
        "ts": 1700000000.5,
        "uptime_sec": 12.25,
    }


def test_subscribe_rejected_version_and_lag() -> None:
    version = SubscribeRejected(reason="version", remediation="speak proto 1", supported=[1])
    assert json.loads(encode_message(version)) == {
        "kind": "subscribe_rejected",
        "reason": "version",
        "remediation": "speak proto 1",
        "supported": [1],
    }
    # Unset optional keys are omitted, not sent as null.
    assert json.loads(encode_message(SubscribeRejected(reason="lag_limit_exceeded"))) == {
        "kind": "subscribe_rejected",
        "reason": "lag_limit_exceeded",
    }


def test_hub_stats_keys() -> None:
    stats = HubStats(
        pid=1,
        uptime_sec=2.0,
        subscribers=3,
        head_event_id=None,
        events_broadcast=4,
        frames_sent=5,
        evictions=6,
        rejected_connections=7,
    )
    assert keys(stats) == [
        "kind",
        "pid",
        "uptime_sec",
        "subscribers",
        "head_event_id",
        "events_broadcast",
        "frames_sent",
        "evictions",
        "rejected_connections",
        "clients",
    ]
    assert decode_server_message(encode_message(stats)) == stats


def test_hub_stats_clients_decode_and_default_to_empty() -> None:
    info = SubscriberInfo(pid=42, state="live", connected_sec=1.5, queued_bytes=10, behind_rows=0)
    stats = HubStats(
        pid=1,
        uptime_sec=2.0,
        subscribers=1,
        head_event_id=None,
        events_broadcast=0,
        frames_sent=0,
        evictions=0,
        rejected_connections=0,
        clients=[info],
    )
    assert decode_server_message(encode_message(stats)) == stats
    # A hub from before `clients` existed still decodes, with none listed.
    old = b'{"kind":"hub_stats","pid":1,"uptime_sec":1.0,"subscribers":0,"head_event_id":null,'
    old += b'"events_broadcast":0,"frames_sent":0,"evictions":0,"rejected_connections":0}'
    decoded = decode_server_message(old)
    assert isinstance(decoded, HubStats) and decoded.clients == []


@pytest.mark.parametrize(
    "msg",
    [
        SubscribeAck(caught_up_at=ULID),
        Truncated(event_id=ULID, reason="big"),
        Heartbeat(ts=1.0, uptime_sec=2.0),
        SubscribeRejected(reason="version", supported=[1]),
        EventFrame(event_id=ULID, event_type="t", fields={"a": [1, {"b": None}]}),
    ],
)
def test_server_messages_round_trip(msg: msgspec.Struct) -> None:
    got = decode_server_message(encode_message(msg))
    assert got == msg
    assert type(got) is type(msg)


def test_unknown_kind_decodes_to_none() -> None:
    assert decode_server_message(b'{"kind":"from_the_future","x":1}') is None
    assert decode_server_message(b'{"kind":"event_v2"}') is None


def test_known_kind_ignores_unknown_keys() -> None:
    got = decode_server_message(b'{"kind":"daemon_heartbeat","ts":1,"uptime_sec":2,"load":0.5}')
    assert got == Heartbeat(ts=1.0, uptime_sec=2.0)


def test_event_frame_defaults_for_a_minimal_hand_written_frame() -> None:
    got = decode_server_message(b'{"kind":"event","event_id":"' + ULID.encode() + b'","event_type":"t"}')
    assert isinstance(got, EventFrame)
    assert (got.source, got.owner, got.received_at, got.fields) == ("", None, 0, {})


@pytest.mark.parametrize(
    "body",
    [
        b'{"kind":"subscribe_ack","proto":"one"}',  # known kind, wrong type
        b'{"kind":"event"}',  # known kind, missing event_id
        b'{"no_kind":1}',
        b'{"kind":7}',
        b"[]",
        b"{",
    ],
)
def test_malformed_server_messages_raise(body: bytes) -> None:
    with pytest.raises((msgspec.ValidationError, msgspec.DecodeError)):
        decode_server_message(body)

"""Properties of a subscriber's filter inside the hub: for any subscribe frame the wire
accepts and any stored row (fields that are not JSON, or nested far past the interpreter's
stack included), configuring raises at most PredicateError (the hub then drops that
client) and `wants` answers True or False. An exception here would end the hub's loop."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_hub._rows import Prepared
from waitbus_hub._subscriber import PredicateError, Subscriber
from waitbus_store import Row
from waitbus_wire import MAX_VALUE_DEPTH, SubscribeError, decode_subscribe

PROPS = settings(max_examples=200, deadline=None, derandomize=True)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from("abn"), inner, max_size=3),
    max_leaves=8,
)
KEY = st.sampled_from(["source", "event_type", "owner", "fields.a", "fields.a.0", "fields.b.n", "fields.zz"])
SPEC = st.builds(lambda k, v: f"{k}={json.dumps(v)}", KEY, JSON) | st.text(max_size=12)
# Depths at the limit, just past it, deep enough to exhaust the stack when matched level
# by level yet still decodable (1500: Hypothesis runs a test with the recursion limit
# raised to about 2000), and too deep to decode at all (20000).
DEPTH = st.sampled_from([1, MAX_VALUE_DEPTH, MAX_VALUE_DEPTH + 1, 1500, 20000])
DEEP_SPEC = st.builds(lambda d: "fields.a=" + "[" * d + "1" + "]" * d, DEPTH)
SUBSCRIBE = st.fixed_dictionaries(
    {},
    optional={
        "filters": st.lists(st.sampled_from(["*", "acme/*", "acme/app", "x/y"]), min_size=1, max_size=3),
        "event_types": st.lists(st.sampled_from(["e", "workflow_run"]), max_size=2),
        "where": st.lists(st.lists(SPEC | DEEP_SPEC, max_size=3), min_size=1, max_size=3),
    },
)


def deep_text(depth: int) -> str:
    return '{"a":' + "[" * depth + "1" + "]" * depth + "}"


FIELDS_TEXT = st.builds(json.dumps, st.dictionaries(st.sampled_from("ab"), JSON, max_size=3)) | st.one_of(
    st.text(max_size=20), st.builds(deep_text, DEPTH)
)


@pytest.fixture(scope="module")
def sock() -> Iterator[socket.socket]:
    a, b = socket.socketpair()
    yield a
    a.close()
    b.close()


@PROPS
@given(SUBSCRIBE, st.lists(st.tuples(FIELDS_TEXT, st.sampled_from([None, "acme", "x"])), min_size=1, max_size=4))
def test_any_accepted_subscribe_filters_any_row_without_raising(
    sock: socket.socket, frame: dict[str, object], rows: list[tuple[str, str | None]]
) -> None:
    try:
        request = decode_subscribe(json.dumps(frame).encode())
    except SubscribeError:
        return
    sub = Subscriber(sock, 0.0)
    try:
        sub.configure(request)
    except PredicateError:
        return  # the hub closes this client only
    for seq, (fields, owner) in enumerate(rows, start=1):
        row = Row(seq, f"01{seq:024d}", "agent", "e", owner, "app", 0, f"d{seq}", "", fields)
        assert sub.wants(Prepared(row)) in (True, False)

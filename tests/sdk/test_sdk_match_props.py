"""Properties of the SDK's Matcher on arbitrary wait_for arguments: it is built or refused
with PredicateError before any connection, whatever it asks the hub to filter on is a
`where` the hub accepts (so a wait never ends in a silently closed connection), and
offering it any event answers True or False."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from waitbus import EventFrame, Matcher, PredicateError
from waitbus_hub._subscriber import Subscriber
from waitbus_wire import decode_subscribe

PROPS = settings(max_examples=200, deadline=None, derandomize=True)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from("ab"), inner, max_size=2),
    max_leaves=5,
)
GOOD_SPEC = st.builds(lambda k, v: f"{k}={json.dumps(v)}", st.sampled_from(["fields.a", "fields.b.0", "owner"]), JSON)
SPEC = GOOD_SPEC | st.builds(lambda s, spec: f"{s}:{spec}", st.sampled_from(["agent", "pytest"]), GOOD_SPEC)
ANY_SPEC = SPEC | st.text(max_size=15)
NAME = st.none() | st.text(st.characters(codec=None), max_size=10)
ARGS = st.fixed_dictionaries(
    {"match": st.none() | ANY_SPEC | st.lists(ANY_SPEC, max_size=4)},
    optional={
        "source": NAME,
        "to": NAME,
        "all_of": st.lists(ANY_SPEC | st.lists(ANY_SPEC, max_size=2), max_size=3),
        # Around the hub's 64 `where` alternatives.
        "first_of": st.lists(ANY_SPEC, max_size=3) | st.lists(GOOD_SPEC, min_size=63, max_size=66),
    },
)
FRAMES = st.builds(
    lambda src, fields: EventFrame(event_id="01" + "0" * 24, event_type="e", source=src, fields=fields),
    st.sampled_from(["agent", "pytest"]),
    st.dictionaries(st.sampled_from(["a", "b", "msg_to"]), JSON, max_size=3),
)


@pytest.fixture(scope="module")
def sock() -> Any:
    a, b = socket.socketpair()
    yield a
    a.close()
    b.close()


@PROPS
@given(ARGS, st.lists(FRAMES, max_size=4))
@example({"match": None, "first_of": [f"fields.a={i}" for i in range(65)]}, [])  # past the hub's 64
@example({"match": None, "source": "\udcff", "to": "\ud800"}, [])  # no UTF-8 form
def test_any_arguments_build_a_matcher_the_hub_accepts_or_raise_predicate_error(
    sock: socket.socket, args: dict[str, Any], frames: list[EventFrame]
) -> None:
    try:
        matcher = Matcher(**args)
    except PredicateError as exc:
        assert str(exc)
        return
    where = matcher.hub_where()
    if where is not None:
        # The exact frame the SDK would send: the hub must take it, not close on it.
        Subscriber(sock, 0.0).configure(decode_subscribe(json.dumps({"proto": 1, "where": where}).encode()))
    for frame in frames:
        assert matcher.offer(frame) in (True, False)

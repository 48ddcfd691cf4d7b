"""Properties of `POST /emit`, called in-process the way the listener calls it, against
this test's real SQLite log: any body is answered 2xx (and then stored exactly as sent)
or 400 with a JSON error, never an exception (the listener would turn one into a 500);
the bearer check never raises on any header and lets in only the staged token."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from waitbus import HttpRequest, fetch_payload
from waitbus_cli._listener_emit import KEYS, SECRET, authorize_emit, bearer_ok, handle_emit
from waitbus_store import Store, resolve_paths

PROPS = settings(max_examples=200, deadline=None, derandomize=True)
TOKEN = "emit-token-value-1234"
# All of Unicode, lone surrogates included: json.dumps writes those as "\ud800" escapes,
# which decode back to text SQLite cannot store.
TEXT = st.text(st.characters(codec=None), max_size=12)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8,
)
NAME = st.sampled_from(["ci", "agent", "a.b-c_d"]) | TEXT
EVENTS = st.fixed_dictionaries(
    {"source": NAME, "event_type": NAME},
    optional={k: JSON | TEXT for k in KEYS if k not in ("source", "event_type")} | {"extra": JSON},
)


def post(body: bytes) -> tuple[int, dict[str, Any]]:
    resp = handle_emit(HttpRequest("POST", "/emit", {"authorization": f"Bearer {TOKEN}"}, body, {SECRET: TOKEN}))
    assert resp.content_type == "application/json"
    return resp.status, json.loads(resp.body)


def check_answer(status: int, reply: dict[str, Any], sent: dict[str, Any] | None) -> None:
    assert status in (200, 201, 400), (status, reply)
    if status == 400:
        assert isinstance(reply["error"], str) and reply["error"]
        return
    assert sent is not None and reply["inserted"] is (status == 201)
    with Store(resolve_paths().db) as store:
        found = store.get(reply["event_id"])
    assert found is not None
    row, _ = found
    assert (row.source, row.event_type) == (sent["source"], sent["event_type"])
    if "fields" in sent and isinstance(sent["fields"], dict):
        assert {k: v for k, v in json.loads(row.fields).items() if k not in ("source", "event_type")} == {
            k: v for k, v in sent["fields"].items() if k not in ("source", "event_type")
        }
    if sent.get("payload") is not None and status == 201:
        assert fetch_payload(reply["event_id"]) is not None


@PROPS
@given(st.binary(max_size=300) | st.integers(1, 30000).map(lambda d: b'{"source":' + b"[" * d + b"]" * d + b"}"))
def test_any_bytes_get_an_answer_never_an_exception(body: bytes) -> None:
    status, reply = post(body)
    try:
        sent = json.loads(body)
    except (ValueError, RecursionError):
        sent = None
    check_answer(status, reply, sent if isinstance(sent, dict) else None)


@PROPS
@given(EVENTS)
@example({"source": "ci", "event_type": "x", "summary": "a\ud800"})  # a JSON "\ud800" escape
@example({"source": "ci", "event_type": "x", "delivery_id": "\udcff"})
@example({"source": "ci", "event_type": "x", "owner": "\udcff", "repo": "r"})
@example({"source": "ci", "event_type": "x", "payload": "\ud800"})
@example({"source": "ci", "event_type": "x", "fields": {"k": "\ud800"}})
def test_any_event_shaped_object_is_stored_as_sent_or_refused_with_400(event: dict[str, Any]) -> None:
    status, reply = post(json.dumps(event).encode())  # ensure_ascii: lone surrogates become escapes
    check_answer(status, reply, event)


LATIN1 = st.text(st.characters(max_codepoint=255), max_size=30)
PAD = st.sampled_from(["", " ", "\t", "  "])


@PROPS
@given(
    PAD,
    st.sampled_from(["Bearer", "bearer", "BEARER", "bEaReR", "Basic", "Token", ""]) | LATIN1,
    st.sampled_from([" ", "  ", " \t", "\t", ""]),
    st.sampled_from([TOKEN, TOKEN[:-1], TOKEN + "x", TOKEN.upper(), f"{TOKEN} {TOKEN}", ""]) | LATIN1,
    PAD,
)
def test_the_bearer_check_never_raises_and_only_the_token_passes(
    before: str, scheme: str, sep: str, cred: str, after: str
) -> None:
    # http.server hands header values over decoded as latin-1: any code point up to 255.
    header = f"{before}{scheme}{sep}{cred}{after}"
    expected = scheme.lower() == "bearer" and sep.startswith(" ") and cred == TOKEN
    assert bearer_ok({"authorization": header}, TOKEN) is expected
    denied = authorize_emit({"authorization": header}, {SECRET: TOKEN})
    assert (denied is None) is expected
    if denied is not None:
        assert denied.status == 401 and TOKEN.encode() not in denied.body

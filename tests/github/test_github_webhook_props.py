"""Properties of `POST /webhook` (called in-process as the listener calls it, against this
test's real SQLite log): the signature is HMAC-SHA256 over exactly the raw bytes, any
other header or body fails it without raising and stores nothing, and any signed body,
however malformed, is answered 200/202/400, never an exception (which the listener would
turn into a 500 that GitHub then retries forever)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from waitbus import HttpRequest
from waitbus_sources_github import handle_webhook, sign, verify_signature
from waitbus_store import Store, resolve_paths

PROPS = settings(max_examples=200, deadline=None, derandomize=True)
SECRET = "gh-webhook-secret-0123"
TEXT = st.text(st.characters(codec=None), max_size=12)  # lone surrogates included
ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
RUN_KEYS = ("id", "name", "status", "conclusion", "head_sha", "head_branch", "run_attempt", "pull_requests", "labels")
DELIVERY = st.fixed_dictionaries(
    {},
    optional={
        "action": ANY,
        "workflow_run": st.dictionaries(st.sampled_from(RUN_KEYS), ANY, max_size=6) | ANY,
        "workflow_job": st.dictionaries(st.sampled_from(RUN_KEYS), ANY, max_size=6) | ANY,
        "repository": st.fixed_dictionaries({"name": ANY, "owner": st.fixed_dictionaries({"login": ANY})}) | ANY,
        "workflow": ANY,
    },
)
EVENT = st.sampled_from(["workflow_run", "workflow_job", "ping", "push", ""])


def stored() -> int:
    with Store(resolve_paths().ensure().db) as store:
        return store.count()


def deliver(body: bytes, event: str, signature: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"x-github-event": event, "x-github-delivery": "d-1", "content-type": "application/json"}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    resp = handle_webhook(HttpRequest("POST", "/webhook", headers, body, {"github-webhook-secret": SECRET}))
    reply: dict[str, Any] = json.loads(resp.body)
    return resp.status, reply


@PROPS
@given(st.text(min_size=1, max_size=30), st.binary(max_size=200), st.data())
def test_a_signature_holds_for_exactly_its_secret_and_body(secret: str, body: bytes, data: st.DataObject) -> None:
    header = sign(secret, body)
    assert verify_signature(secret, body, header)
    assert verify_signature(secret, body, header.upper().replace("SHA256=", "sha256="))  # hex case is free
    if body:
        i = data.draw(st.integers(0, len(body) - 1))
        flipped = body[:i] + bytes([body[i] ^ data.draw(st.integers(1, 255))]) + body[i + 1 :]
        assert not verify_signature(secret, flipped, header)
    assert not verify_signature(secret + "x", body, header)


@PROPS
@given(st.text(max_size=80) | st.text(st.characters(max_codepoint=255), max_size=80), st.binary(max_size=50))
def test_any_header_text_fails_the_check_without_raising(header: str, body: bytes) -> None:
    ok = verify_signature(SECRET, body, header)
    assert ok is False or sign(SECRET, body).removeprefix("sha256=") in header.lower()


@PROPS
@given(DELIVERY, EVENT, st.sampled_from(["none", "wrong", "other-body"]))
def test_unsigned_or_badly_signed_deliveries_are_401_and_store_nothing(
    delivery: dict[str, Any], event: str, how: str
) -> None:
    body = json.dumps(delivery).encode()
    before = stored()
    signature = {"none": None, "wrong": sign("not-the-secret", body), "other-body": sign(SECRET, body + b" ")}[how]
    status, reply = deliver(body, event, signature)
    assert status == 401 and "error" in reply and SECRET not in json.dumps(reply)
    assert stored() == before


@PROPS
@given(
    DELIVERY.map(lambda d: json.dumps(d).encode())
    | st.binary(max_size=120)
    | st.integers(1, 30000).map(lambda d: b'{"workflow_run":' + b"[" * d + b"]" * d + b"}"),
    EVENT,
)
@example(b'{"workflow_run": {"id": 1}, "repository": {"name": "\\ud800", "owner": {"login": "a"}}}', "workflow_run")
@example(b'{"workflow_run": {"id": 1}, "repository": {"name": "' + b"r" * 300 + b'"}}', "workflow_run")
def test_any_signed_body_is_answered_and_only_a_2xx_stores(body: bytes, event: str) -> None:
    before = stored()
    status, reply = deliver(body, event, sign(SECRET, body))
    assert status in (200, 202, 400), (status, reply)
    assert stored() - before == (1 if status == 200 and reply.get("inserted") else 0)
    if status == 400:
        assert isinstance(reply["error"], str)

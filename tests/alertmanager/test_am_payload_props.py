"""Properties of the Alertmanager webhook (called in-process as the listener calls it,
against this test's real SQLite log): any body parses into alerts or raises PayloadError;
every well-formed notification stores one event per alert and a repeat stores nothing;
any authenticated body is answered 200 or 400 (never a 5xx that Alertmanager would retry
forever, never an exception); and without the right credentials nothing is stored."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from waitbus import HttpRequest
from waitbus_sources_alertmanager import PayloadError, handle_alertmanager, handle_watchdog, parse_payload, sign
from waitbus_store import Store, resolve_paths

PROPS = settings(max_examples=200, deadline=None, derandomize=True)
TOKEN = "am-token-0123456789"
HMAC_KEY = "proxy-key-abcdef"
SECRETS = {"alertmanager-token": TOKEN, "alertmanager-hmac": HMAC_KEY}
TEXT = st.text(st.characters(codec=None), max_size=10)  # lone surrogates included
ANY = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
GOOD_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), min_size=1, max_size=12)
ALERT = st.fixed_dictionaries(
    {
        "status": st.sampled_from(["firing", "resolved"]),
        "labels": st.dictionaries(
            st.sampled_from(["alertname", "severity", "owner", "repo", "job"]), GOOD_TEXT, min_size=1
        ),
        "startsAt": st.just("2024-11-26T00:00:00Z"),
        "fingerprint": st.from_regex(r"[0-9a-f]{16}", fullmatch=True),
    },
    optional={
        "annotations": st.dictionaries(st.sampled_from(["summary", "description"]), GOOD_TEXT),
        "endsAt": st.sampled_from(["0001-01-01T00:00:00Z", "2024-11-26T01:00:00Z"]),
        "generatorURL": GOOD_TEXT,
    },
)
NOTIFICATION = st.fixed_dictionaries(
    {"version": st.just("4"), "alerts": st.lists(ALERT, max_size=4, unique_by=lambda a: a["fingerprint"])},
    optional={"groupKey": GOOD_TEXT, "receiver": GOOD_TEXT, "truncatedAlerts": st.integers(0, 5)},
)
# A notification with any of its parts replaced by anything.
MANGLED = NOTIFICATION.flatmap(
    lambda n: st.fixed_dictionaries(
        {k: st.just(v) | (st.lists(ALERT | ANY, max_size=3) if k == "alerts" else ANY) for k, v in n.items()}
    )
)
BODIES = (
    st.binary(max_size=150)
    | MANGLED.map(lambda n: json.dumps(n).encode())
    | st.integers(1, 30000).map(lambda d: b'{"alerts":' + b"[" * d + b"]" * d + b"}")
)


def stored() -> int:
    with Store(resolve_paths().ensure().db) as store:
        return store.count()


def post(body: bytes, headers: dict[str, str], watchdog: bool = False) -> tuple[int, dict[str, Any]]:
    handler = handle_watchdog if watchdog else handle_alertmanager
    resp = handler(HttpRequest("POST", "/watchdog" if watchdog else "/alertmanager", headers, body, SECRETS))
    reply: dict[str, Any] = json.loads(resp.body)
    return resp.status, reply


@PROPS
@given(BODIES)
def test_any_body_parses_or_raises_payload_error(body: bytes) -> None:
    try:
        alerts, truncated = parse_payload(body)
    except PayloadError as exc:
        assert str(exc)
        return
    assert truncated >= 0
    assert all(a.status in ("firing", "resolved") and a.labels and a.fingerprint for a in alerts)


@PROPS
@given(NOTIFICATION, st.booleans())
def test_a_stock_notification_stores_one_event_per_alert_and_a_repeat_stores_nothing(
    notification: dict[str, Any], watchdog: bool
) -> None:
    body = json.dumps(notification).encode()
    before = stored()
    status, reply = post(body, {"authorization": f"Bearer {TOKEN}"}, watchdog)
    assert status == 200, reply
    assert reply["stored"] + reply["duplicates"] == len(notification["alerts"])
    assert stored() - before == reply["stored"]
    if not watchdog:  # a watchdog heartbeat is kept once a minute: a repeat may cross one
        again_status, again = post(body, {"x-waitbus-signature-256": sign(HMAC_KEY, body)})
        assert again_status == 200 and again["stored"] == 0 and stored() - before == reply["stored"]


@PROPS
@given(BODIES, st.booleans())
@example(
    b'{"alerts": [{"status": "firing", "labels": {"owner": "\\ud800"}, "startsAt": "t", "fingerprint": "f"}]}', False
)
@example(b'{"alerts": [{"status": "firing", "labels": {"a": "b"}, "startsAt": "t", "fingerprint": "\\udcff"}]}', True)
def test_any_authenticated_body_is_answered_200_or_400(body: bytes, watchdog: bool) -> None:
    before = stored()
    status, reply = post(body, {"authorization": f"Bearer {TOKEN}"}, watchdog)
    assert status in (200, 400), (status, reply)
    if status == 400:
        assert isinstance(reply["error"], str)
        # an alert refused mid-notification may follow stored ones; the count says so
        assert stored() - before == reply.get("stored", 0)


@PROPS
@given(
    BODIES,
    st.fixed_dictionaries(
        {},
        optional={
            "authorization": st.sampled_from([f"Bearer {TOKEN}x", "Bearer", f"Basic {TOKEN}", TOKEN, ""]) | TEXT,
            "x-waitbus-signature-256": st.sampled_from(["sha256=", sign("wrong", b"")]) | TEXT,
        },
    ),
)
def test_without_the_right_credentials_nothing_is_stored(body: bytes, headers: dict[str, str]) -> None:
    before = stored()
    status, reply = post(body, headers)
    assert status == 401 and TOKEN not in json.dumps(reply) and HMAC_KEY not in json.dumps(reply)
    assert stored() == before

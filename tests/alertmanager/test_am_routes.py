"""The two route handlers, called the way the listener calls them (waitbus.HttpRequest),
with the exact bodies and headers Debian's Alertmanager 0.25 sent (payloads/); the
events land in this test's own real SQLite log."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from waitbus import HttpRequest, HttpResponse
from waitbus_sources_alertmanager import handle_alertmanager, handle_watchdog, sign
from waitbus_store import Row, Store, resolve_paths

PAYLOADS = Path(__file__).parent / "payloads"
TOKEN = "am-token-0123456789"
HMAC_KEY = "proxy-key-abcdef"
STOCK_HEADERS = {"user-agent": "Alertmanager/0.25.0", "content-type": "application/json"}


def body(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


def request(
    path: str, raw: bytes, headers: dict[str, str] | None = None, secrets: dict[str, str] | None = None
) -> HttpRequest:
    hdrs = {**STOCK_HEADERS, "authorization": f"Bearer {TOKEN}"} if headers is None else headers
    return HttpRequest("POST", path, hdrs, raw, {"alertmanager-token": TOKEN} if secrets is None else secrets)


def reply(resp: HttpResponse) -> dict[str, Any]:
    assert resp.content_type == "application/json"
    doc: dict[str, Any] = json.loads(resp.body)
    return doc


def rows() -> list[Row]:
    db = resolve_paths().db
    if not db.exists():
        return []
    with Store(db) as store:
        return store.read_after(0, 10_000)


def test_stock_notifications_store_one_event_per_alert_and_repeats_are_noops() -> None:
    r = handle_alertmanager(request("/alertmanager", body("firing")))
    assert (r.status, reply(r)) == (200, {"stored": 1, "duplicates": 0})
    # The repeat notification Alertmanager sent byte for byte, then the group with B added.
    assert reply(handle_alertmanager(request("/alertmanager", body("firing")))) == {"stored": 0, "duplicates": 1}
    assert reply(handle_alertmanager(request("/alertmanager", body("grouped_firing")))) == {
        "stored": 1,
        "duplicates": 1,
    }
    # A resolved, B repeated.
    assert reply(handle_alertmanager(request("/alertmanager", body("resolved")))) == {"stored": 1, "duplicates": 1}
    stored = rows()
    assert [(r.source, r.event_type) for r in stored] == [("alertmanager", "prometheus_alert")] * 3
    first, b, resolved = stored
    fields = json.loads(first.fields)
    assert (fields["alertname"], fields["status"], fields["fingerprint"]) == (
        "HighErrorRate",
        "firing",
        "33fc5a46a7c95df9",
    )
    assert (first.owner, first.repo) == ("acme", "shop")
    assert first.summary == "[firing] HighErrorRate (critical): 5% of requests fail"
    assert (b.owner, b.repo) == (None, None)
    assert json.loads(resolved.fields)["status"] == "resolved"
    assert resolved.summary.startswith("[resolved] HighErrorRate (critical)")
    with Store(resolve_paths().db) as store:
        found = store.get(first.event_id)
    assert found is not None and found[1] is not None
    assert json.loads(found[1])["fingerprint"] == "33fc5a46a7c95df9"  # the alert is the payload


def test_no_credential_staged_is_503_with_how_to_stage_it() -> None:
    r = handle_alertmanager(request("/alertmanager", body("firing"), secrets={}))
    assert r.status == 503
    assert "waitbus install-credentials alertmanager-token" in reply(r)["error"]
    assert rows() == []


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": "Bearer wrong-token"},
        {"authorization": f"Basic {TOKEN}"},
        {"authorization": f"Bearer {TOKEN}x"},
        {"authorization": "Bearer "},
        {"x-waitbus-signature-256": "sha256=" + "0" * 64},
    ],
    ids=["none", "wrong", "basic", "longer", "empty", "unstaged-hmac"],
)
def test_bad_or_missing_credentials_are_401_and_store_nothing(headers: dict[str, str]) -> None:
    for handler, path in ((handle_alertmanager, "/alertmanager"), (handle_watchdog, "/watchdog")):
        r = handler(request(path, body("firing"), headers={**STOCK_HEADERS, **headers}))
        assert r.status == 401, reply(r)
    assert rows() == []
    assert not (resolve_paths().state_dir / "watchdog" / "heartbeat").exists()


def test_unauthenticated_garbage_is_401_not_400() -> None:
    # Auth comes first: a stranger learns nothing about what the body should be.
    r = handle_alertmanager(request("/alertmanager", b"{not json", headers={"authorization": "Bearer nope"}))
    assert r.status == 401


def test_bearer_scheme_is_case_insensitive() -> None:
    r = handle_alertmanager(request("/alertmanager", body("firing"), headers={"authorization": f"bearer {TOKEN}"}))
    assert r.status == 200


def test_hmac_of_a_signing_proxy_is_accepted_over_the_raw_body() -> None:
    secrets = {"alertmanager-hmac": HMAC_KEY}
    raw = body("firing")
    good = {"x-waitbus-signature-256": sign(HMAC_KEY, raw)}
    assert handle_alertmanager(request("/alertmanager", raw, headers=good, secrets=secrets)).status == 200
    # Upper-case hex from a proxy is the same signature.
    upper = {"x-waitbus-signature-256": "sha256=" + sign(HMAC_KEY, raw).removeprefix("sha256=").upper()}
    assert handle_alertmanager(request("/alertmanager", raw, headers=upper, secrets=secrets)).status == 200
    # One byte changed after signing: refused.
    tampered = raw.replace(b"5% of requests fail", b"6% of requests fail")
    assert handle_alertmanager(request("/alertmanager", tampered, headers=good, secrets=secrets)).status == 401
    # A signature made with another key: refused.
    other = {"x-waitbus-signature-256": sign("another-key", raw)}
    assert handle_alertmanager(request("/alertmanager", raw, headers=other, secrets=secrets)).status == 401
    # With both staged, either one is enough.
    both = {"alertmanager-hmac": HMAC_KEY, "alertmanager-token": TOKEN}
    assert handle_alertmanager(request("/alertmanager", body("resolved"), secrets=both)).status == 200
    assert len(rows()) == 3


def test_authenticated_but_malformed_is_400_and_stores_nothing() -> None:
    doc = json.loads(body("grouped_firing"))
    doc["alerts"][1]["status"] = "pending"  # the second alert is bad: the first is not stored either
    r = handle_alertmanager(request("/alertmanager", json.dumps(doc).encode()))
    assert r.status == 400 and "alerts[1].status" in reply(r)["error"]
    assert handle_alertmanager(request("/alertmanager", b"")).status == 400
    assert rows() == []


def test_an_unwritable_log_is_503_so_alertmanager_retries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the state dir should be")
    monkeypatch.setenv("WAITBUS_STATE_DIR", str(blocker / "state"))
    r = handle_alertmanager(request("/alertmanager", body("firing")))
    assert r.status == 503, reply(r)
    assert "cannot be written" in reply(r)["error"]


def _avoid_minute_edge() -> None:
    # Watchdog heartbeats dedup per wall-clock minute; keep one test inside one minute.
    if time.time() % 60 > 50:
        time.sleep(61 - time.time() % 60)


def test_watchdog_heartbeats_are_stored_once_a_minute_and_touch_the_heartbeat_file() -> None:
    _avoid_minute_edge()
    heartbeat = resolve_paths().state_dir / "watchdog" / "heartbeat"
    r = handle_watchdog(request("/watchdog", body("watchdog_firing")))
    assert (r.status, reply(r)) == (200, {"stored": 1, "duplicates": 0})
    first_touch = heartbeat.stat().st_mtime_ns
    assert "448881ef475b9b26" in heartbeat.read_text()
    time.sleep(0.05)
    r = handle_watchdog(request("/watchdog", body("watchdog_firing")))
    assert reply(r) == {"stored": 0, "duplicates": 1}  # the same minute: one event...
    assert heartbeat.stat().st_mtime_ns > first_touch  # ...but the heartbeat file moved on
    (event,) = rows()
    assert (event.event_type, json.loads(event.fields)["alertname"]) == ("prometheus_watchdog", "Watchdog")
    assert oct(heartbeat.parent.stat().st_mode & 0o777) == "0o700"


def test_watchdog_resolve_is_stored_and_does_not_touch_the_heartbeat() -> None:
    r = handle_watchdog(request("/watchdog", body("watchdog_resolved")))
    assert reply(r) == {"stored": 1, "duplicates": 0}
    assert reply(handle_watchdog(request("/watchdog", body("watchdog_resolved")))) == {"stored": 0, "duplicates": 1}
    assert not (resolve_paths().state_dir / "watchdog" / "heartbeat").exists()
    (event,) = rows()
    assert json.loads(event.fields)["status"] == "resolved"


def test_the_two_routes_store_different_event_types() -> None:
    handle_alertmanager(request("/alertmanager", body("watchdog_firing")))
    handle_watchdog(request("/watchdog", body("watchdog_firing")))
    assert sorted(r.event_type for r in rows()) == ["prometheus_alert", "prometheus_watchdog"]
    assert os.environ["WAITBUS_STATE_DIR"] in str(resolve_paths().db)  # the test's own log

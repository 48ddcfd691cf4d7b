"""Parsing what a stock Alertmanager sends, the event fields and the derived dedup keys.

The files in payloads/ are byte-for-byte what Debian's prometheus-alertmanager 0.25
posted to a webhook receiver (captured with a plain HTTP server): a firing alert, the
same group after a second alert joined it, the first one resolved, and the Watchdog
firing and resolved.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from waitbus_sources_alertmanager import SOURCE, Alert, PayloadError, parse_payload

PAYLOADS = Path(__file__).parent / "payloads"


def load(name: str) -> bytes:
    return (PAYLOADS / f"{name}.json").read_bytes()


def alerts_of(name: str) -> list[Alert]:
    alerts, truncated = parse_payload(load(name))
    assert truncated == 0
    return alerts


def test_a_firing_alert_becomes_the_documented_fields() -> None:
    (alert,) = alerts_of("firing")
    assert alert.fields() == {
        "alertname": "HighErrorRate",
        "severity": "critical",
        "fingerprint": "33fc5a46a7c95df9",
        "status": "firing",
        "starts_at": "2026-11-26T00:58:03.712427943Z",
        "ends_at": None,  # Alertmanager sends Go's zero time for a firing alert
        "labels": {
            "alertname": "HighErrorRate",
            "instance": "a",
            "owner": "acme",
            "repo": "shop",
            "severity": "critical",
        },
        "summary": "5% of requests fail",
        "description": "The error ratio on a is above 5% for 10 minutes.",
        "group_key": '{}:{alertname="HighErrorRate"}',
        "receiver": "wb",
        "generator_url": "http://prometheus.example:9090/graph?g0.expr=errors",
        "external_url": "http://vm:19093",
    }
    assert alert.summary_line() == "[firing] HighErrorRate (critical): 5% of requests fail"
    assert alert.owner_repo() == ("acme", "shop")
    assert alert.raw == json.loads(load("firing"))["alerts"][0]


def test_resolved_alert_keeps_its_end_time_and_labels_without_owner_give_none() -> None:
    resolved, other = alerts_of("resolved")
    assert (resolved.status, resolved.ends_at) == ("resolved", "2026-11-26T00:58:06Z")
    assert resolved.summary_line().startswith("[resolved] HighErrorRate (critical): ")
    assert other.owner_repo() is None  # then [prometheus] owner/repo apply
    assert other.fields()["description"] is None and other.fields()["generator_url"] is None


def test_summary_line_without_severity_or_annotations() -> None:
    body = json.loads(load("firing"))
    alert = body["alerts"][0]
    alert["labels"] = {"alertname": "DiskFull"}
    alert["annotations"] = {}
    (parsed,), _ = parse_payload(json.dumps(body).encode())
    assert parsed.summary_line() == "[firing] DiskFull"
    alert["annotations"] = {"description": "only a description"}
    (parsed,), _ = parse_payload(json.dumps(body).encode())
    assert parsed.summary_line() == "[firing] DiskFull: only a description"


def test_dedup_key_is_stable_across_repeat_notifications() -> None:
    (first,) = alerts_of("firing")
    a_again, b = alerts_of("grouped_firing")  # the next notification of that group: A repeated, B new
    assert a_again.fingerprint == first.fingerprint
    assert a_again.dedup_key() == first.dedup_key()
    assert b.dedup_key() != first.dedup_key()
    assert len(first.dedup_key()) <= 256


def test_a_resolve_and_a_new_firing_are_new_keys() -> None:
    (first,) = alerts_of("firing")
    resolved, b_again = alerts_of("resolved")
    _, b = alerts_of("grouped_firing")
    assert resolved.fingerprint == first.fingerprint
    assert resolved.dedup_key() != first.dedup_key()
    assert b_again.dedup_key() == b.dedup_key()
    # The same alert firing again later (a new startsAt) is a new episode.
    body = json.loads(load("firing"))
    body["alerts"][0]["startsAt"] = "2026-11-26T01:30:00Z"
    (refired,), _ = parse_payload(json.dumps(body).encode())
    assert refired.dedup_key() != first.dedup_key()
    # A later resolve of the same episode (a different endsAt) is new too.
    body = json.loads(load("resolved"))
    body["alerts"][0]["endsAt"] = "2026-11-26T02:00:00Z"
    (resolved_later, _), _ = parse_payload(json.dumps(body).encode())
    assert resolved_later.dedup_key() != resolved.dedup_key()


def test_same_alert_in_another_group_is_another_key() -> None:
    body = json.loads(load("firing"))
    (first,) = alerts_of("firing")
    body["groupKey"] = '{}/{team="db"}:{alertname="HighErrorRate"}'
    (other,), _ = parse_payload(json.dumps(body).encode())
    assert other.dedup_key() != first.dedup_key()


def test_watchdog_payloads_parse() -> None:
    (firing,) = alerts_of("watchdog_firing")
    (resolved,) = alerts_of("watchdog_resolved")
    assert (firing.alertname, firing.severity, firing.status) == ("Watchdog", "none", "firing")
    assert resolved.status == "resolved" and resolved.fingerprint == firing.fingerprint


def test_truncated_alerts_count_is_returned() -> None:
    body = json.loads(load("firing"))
    body["truncatedAlerts"] = 3
    assert parse_payload(json.dumps(body).encode())[1] == 3


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: "not json", "not JSON"),
        (lambda b: [b], "JSON object"),
        (lambda b: {**b, "version": "3"}, "version '3' is not supported"),
        (lambda b: {**b, "alerts": {}}, "alerts must be a list"),
        (lambda b: {**b, "alerts": ["x"]}, "alerts[0] must be an object"),
        (lambda b: {**b, "alerts": [{**b["alerts"][0], "status": "pending"}]}, "alerts[0].status"),
        (lambda b: {**b, "alerts": [{**b["alerts"][0], "labels": {}}]}, "alerts[0].labels must not be empty"),
        (lambda b: {**b, "alerts": [{**b["alerts"][0], "labels": {"a": 1}}]}, "alerts[0].labels must be an object"),
        (lambda b: {**b, "alerts": [{**b["alerts"][0], "fingerprint": ""}]}, "alerts[0].fingerprint"),
        (lambda b: {**b, "alerts": [{**b["alerts"][0], "startsAt": None}]}, "alerts[0].startsAt"),
        (lambda b: {**b, "alerts": [{**b["alerts"][0], "annotations": []}]}, "alerts[0].annotations"),
        (lambda b: {**b, "truncatedAlerts": -1}, "truncatedAlerts"),
        (lambda b: {**b, "groupKey": 7}, "groupKey"),
    ],
)
def test_what_alertmanager_never_sends_is_refused(mutate, message: str) -> None:
    body = mutate(json.loads(load("firing")))
    raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
    with pytest.raises(PayloadError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_payload(raw)


def test_the_source_spec_is_installed_through_the_entry_point() -> None:
    from waitbus._sources import get_source

    spec = get_source("alertmanager")
    assert spec is SOURCE
    assert spec.event_types == ("prometheus_alert", "prometheus_watchdog")
    assert spec.entity_key == ("fields.fingerprint",)
    assert {(r.method, r.path) for r in spec.routes} == {("POST", "/alertmanager"), ("POST", "/watchdog")}

"""The one JSON shape of an event (docs/wire.md section 10)."""

from __future__ import annotations

import json

from waitbus_wire import EventFrame, event_dict, event_json, iso_utc

NS = 1_732_580_000_123_456_789


def frame() -> EventFrame:
    return EventFrame(
        event_id="01JD5Z9A0000000000000000AB",
        event_type="workflow_run",
        source="github",
        owner="octo",
        repo="hello",
        received_at=NS,
        delivery_id="d-1",
        summary="CI completed",
        fields={"run_id": 12345, "source": "github", "event_type": "workflow_run"},
    )


def test_iso_utc_is_rfc3339_with_milliseconds_truncated_not_rounded() -> None:
    assert iso_utc(NS) == "2024-11-26T00:13:20.123Z"
    assert iso_utc(999_999_999) == "1970-01-01T00:00:00.999Z"


def test_the_shape_has_exactly_the_documented_keys_in_order() -> None:
    d = event_dict(frame())
    keys = "event_id time received_at source event_type owner repo delivery_id summary fields"
    assert list(d) == keys.split()
    assert d["received_at"] == NS and d["time"] == iso_utc(NS)
    assert "kind" not in d  # the hub protocol's tag is not part of an event


def test_event_json_keeps_every_nanosecond_digit_and_round_trips() -> None:
    raw = event_json(frame())
    assert f'"received_at":{NS}'.encode() in raw
    assert json.loads(raw) == event_dict(frame())

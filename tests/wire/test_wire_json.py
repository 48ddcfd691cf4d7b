"""The one JSON shape of an event (docs/wire.md section 10)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_wire import EventFrame, decode_server_view, encode_message, event_dict, event_json, iso_utc

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


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None, derandomize=True)
@given(fields=st.dictionaries(st.text(max_size=6), json_values, max_size=4), summary=st.text(max_size=12))
def test_event_json_writes_the_bytes_msgspec_writes(fields: dict[str, Any], summary: str) -> None:
    """Encoded with the stdlib where it can (no msgspec import), the same bytes anyway."""
    f = EventFrame(event_id="e", event_type="t", summary=summary, fields=fields)
    for event in (f, decode_server_view(encode_message(f)) if _finite(fields) else f):
        try:
            expected: bytes | type[Exception] = msgspec.json.encode(event_dict(event))
        except Exception as exc:
            expected = type(exc)
        if isinstance(expected, bytes):
            assert event_json(event) == expected
        else:
            with pytest.raises(expected):
                event_json(event)


@pytest.mark.parametrize("value", [1e20, 1e16, 1e-5, 1.5e300, -1.5e-7, 5e-324, 0.1, 1e15, -0.0, 12345678.9])
def test_event_json_floats_read_as_msgspec_writes_them(value: float) -> None:
    f = EventFrame(event_id="e", event_type="t", fields={"x": value, "y": [value]})
    assert event_json(f) == msgspec.json.encode(event_dict(f))


def _finite(value: Any) -> bool:
    return "nan" not in repr(value) and "inf" not in repr(value)

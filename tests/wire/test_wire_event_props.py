"""Properties of the event validators every producer runs (SDK, CLI, POST /emit): any
value is accepted as documented or refused with EventError, never another exception,
and what they accept can be stored (it has a UTF-8 form)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_wire import (
    MAX_FIELDS_BYTES,
    EventError,
    check_label,
    check_name,
    encode_fields,
    encode_payload,
    is_text,
    one_line,
)

PROPS = settings(max_examples=300, deadline=None, derandomize=True)
# Text including lone surrogates: what undecodable argv or a JSON "\ud800" escape gives.
ANY_TEXT = st.text(st.characters(codec=None), max_size=40)
ANYTHING = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | ANY_TEXT
    | st.binary(max_size=8)
    | st.builds(object)
    | st.sets(st.integers(), max_size=2),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(ANY_TEXT | st.integers() | st.none(), inner, max_size=3)
        | st.tuples(inner)
    ),
    max_leaves=10,
)


def accepted(fn: Any, *args: Any) -> Any:
    try:
        return fn(*args)
    except EventError as exc:
        assert str(exc)
        return EventError


@PROPS
@given(ANYTHING)
def test_names_are_checked_without_surprises(value: object) -> None:
    if accepted(check_name, "source", value) is not EventError:
        assert isinstance(value, str) and value.isascii() and 1 <= len(value) <= 64


@PROPS
@given(ANYTHING | ANY_TEXT)
def test_labels_are_storable_one_line_text(value: object) -> None:
    got = accepted(check_label, "owner", value)
    if got is not EventError and got is not None:
        assert isinstance(got, str) and "\n" not in got and 1 <= len(got) <= 200
        got.encode()  # storable: no lone surrogates


@PROPS
@given(ANYTHING)
def test_fields_encode_to_bounded_json_or_are_refused(fields: object) -> None:
    data = accepted(encode_fields, "src", "ev", fields)
    if data is not EventError:
        decoded = json.loads(data)
        assert decoded["source"] == "src" and decoded["event_type"] == "ev"
        assert len(data) <= MAX_FIELDS_BYTES


@PROPS
@given(ANYTHING)
def test_payloads_are_stored_as_bytes_or_refused(payload: object) -> None:
    data = accepted(encode_payload, payload)
    assert data is EventError or data is None or isinstance(data, bytes)


@PROPS
@given(ANY_TEXT)
def test_is_text_is_exactly_having_a_utf8_form(text: str) -> None:
    try:
        text.encode()
    except UnicodeEncodeError:
        assert not is_text(text)
    else:
        assert is_text(text)


@PROPS
@given(ANY_TEXT, st.integers(min_value=2, max_value=600))
def test_one_line_is_one_bounded_line(text: str, limit: int) -> None:
    line = one_line(text, limit)
    assert len(line) <= limit and "\n" not in line and line == line.strip()
    line.encode()  # storable, whatever the text held

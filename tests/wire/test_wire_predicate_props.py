"""Properties of the `key=json` grammar on hostile input (test_wire_predicate.py has the
round-trip properties): any text parses or raises PredicateError, values nested past
MAX_VALUE_DEPTH are refused, and a parsed predicate never raises on any event, however
deep, so one subscriber's `where` can never take the hub down."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_wire import MAX_SPEC_CHARS, MAX_SPECS, MAX_VALUE_DEPTH, PredicateError, parse_predicate, parse_spec

PROPS = settings(max_examples=300, deadline=None, derandomize=True)
KEY = st.from_regex(r"[A-Za-z0-9_$@-]{1,5}(\.[A-Za-z0-9_$@-]{1,3}){0,2}", fullmatch=True)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=10,
)


def nest(value: Any, depth: int, key: str = "k") -> Any:
    for i in range(depth):
        value = [value] if i % 2 else {key: value}
    return value


def parsed_or_refused(spec: object) -> tuple[str, Any] | None:
    try:
        return parse_spec(spec)  # type: ignore[arg-type]
    except PredicateError as exc:
        assert str(exc)
        return None


@PROPS
@given(st.text(max_size=200) | st.from_regex(r"[a-z.]{0,8}=.{0,40}", fullmatch=True))
def test_any_text_parses_or_raises_predicate_error(spec: str) -> None:
    parsed_or_refused(spec)


@PROPS
@given(st.binary(max_size=60))
def test_undecodable_argv_parses_or_raises_predicate_error(raw: bytes) -> None:
    # The CLI hands over argv decoded with surrogateescape: lone surrogates included.
    parsed_or_refused("fields.x=" + raw.decode("utf-8", "surrogateescape"))


@PROPS
@given(st.none() | st.integers() | st.binary(max_size=4) | st.lists(st.text(max_size=3), max_size=2))
def test_a_spec_that_is_not_a_string_is_a_predicate_error(spec: object) -> None:
    with pytest.raises(PredicateError):
        parse_spec(spec)  # type: ignore[arg-type]


@PROPS
@given(KEY, st.integers(min_value=0, max_value=MAX_VALUE_DEPTH))
def test_values_up_to_the_depth_limit_parse(key: str, depth: int) -> None:
    value = nest(1, depth)
    assert parse_spec(f"{key}={json.dumps(value)}") == (key, value)


@PROPS
@given(KEY, st.integers(min_value=MAX_VALUE_DEPTH + 1, max_value=MAX_SPEC_CHARS // 2 - 20), st.booleans())
def test_values_nested_past_the_limit_are_a_predicate_error(key: str, depth: int, objects: bool) -> None:
    text = ('{"a":' * depth + "1" + "}" * depth) if objects else ("[" * depth + "]" * depth)
    spec = f"{key}={text}"
    if len(spec) > MAX_SPEC_CHARS:
        spec = spec[:MAX_SPEC_CHARS]  # still refused, for its length or as bad JSON
    with pytest.raises(PredicateError):
        parse_spec(spec)


@PROPS
@given(st.lists(st.text(max_size=30), min_size=MAX_SPECS + 1, max_size=MAX_SPECS + 5))
def test_too_many_specs_are_refused_before_any_is_parsed(specs: list[str]) -> None:
    with pytest.raises(PredicateError, match="limit"):
        parse_predicate(specs)


@PROPS
@given(st.lists(st.tuples(KEY, JSON), min_size=1, max_size=4), JSON, st.integers(min_value=0, max_value=3000))
def test_a_parsed_predicate_never_raises_on_any_event_however_deep(
    pairs: list[tuple[str, Any]], fields: Any, depth: int
) -> None:
    p = parse_predicate([f"{k}={json.dumps(v)}" for k, v in pairs])
    deep_fields = nest(fields, depth, key=pairs[0][0].split(".")[0])
    for event in (fields, deep_fields, {"fields": deep_fields}):
        assert p.matches(event) in (True, False)


@PROPS
@given(KEY, st.integers(min_value=1, max_value=MAX_VALUE_DEPTH))
def test_the_deepest_allowed_value_matches_an_equally_deep_event(key: str, depth: int) -> None:
    # The case that used to exhaust the hub's stack: a deep value meets a deep event.
    value = nest(1, depth)
    event: dict[str, Any] = {}
    cur = event
    parts = key.split(".")
    for part in parts[:-1]:
        cur = cur.setdefault(part, {})
    cur[parts[-1]] = value
    assert parse_predicate(f"{key}={json.dumps(value)}").matches(event)

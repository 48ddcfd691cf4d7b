"""The `dotted.key=<json literal>` match grammar and its matcher."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from waitbus_wire import (
    MAX_SPEC_CHARS,
    MAX_SPECS,
    MISSING,
    EventFrame,
    KeyTest,
    Predicate,
    PredicateError,
    json_equal,
    lookup,
    parse_predicate,
    parse_spec,
)


def matches(specs: str | list[str], event: Any) -> bool:
    return parse_predicate(specs).matches(event)


# -- parsing ---------------------------------------------------------------------------


def test_parse_spec_splits_key_and_json_value() -> None:
    assert parse_spec('fields.status="completed"') == ("fields.status", "completed")
    assert parse_spec("fields.run_id=12345") == ("fields.run_id", 12345)
    assert parse_spec("a=1.5") == ("a", 1.5)
    assert parse_spec("a=true") == ("a", True)
    assert parse_spec("a=null") == ("a", None)
    assert parse_spec('a=[1,"x"]') == ("a", [1, "x"])
    assert parse_spec('a={"b":null}') == ("a", {"b": None})


def test_whitespace_around_key_and_value_is_ignored() -> None:
    assert parse_spec("  fields.n  =  7  ") == ("fields.n", 7)


def test_only_the_first_equals_splits() -> None:
    assert parse_spec('fields.q="a=b=c"') == ("fields.q", "a=b=c")


def test_key_charset() -> None:
    assert parse_spec("$meta.@x.a-b_c.0=1")[0] == "$meta.@x.a-b_c.0"


def test_unquoted_string_error_shows_the_fix() -> None:
    with pytest.raises(PredicateError) as info:
        parse_spec("fields.status=completed")
    msg = str(info.value)
    assert "double quotes" in msg
    assert 'fields.status="completed"' in msg


def test_missing_equals_error_shows_the_form() -> None:
    with pytest.raises(PredicateError, match=r"has no '='.*key=<json>"):
        parse_spec("fields.status")


@pytest.mark.parametrize("spec", ["=1", "a..b=1", ".a=1", "a.=1", "a b=1", "fields.x!=1", "ä=1"])
def test_bad_keys_are_refused_with_a_hint(spec: str) -> None:
    with pytest.raises(PredicateError, match="dotted names"):
        parse_spec(spec)


@pytest.mark.parametrize("spec", ["a=", "a=[1,", "a='x'", "a=True", "a=None", "a=NaN"])
def test_bad_json_values_are_refused(spec: str) -> None:
    with pytest.raises(PredicateError, match="not a JSON literal"):
        parse_spec(spec)


def test_non_string_spec_is_refused() -> None:
    with pytest.raises(PredicateError, match="must be a string"):
        parse_spec(42)  # type: ignore[arg-type]
    with pytest.raises(PredicateError, match="must be a string"):
        parse_predicate([b"a=1"])  # type: ignore[list-item]


def test_length_cap() -> None:
    prefix = 'k="'
    ok = prefix + "x" * (MAX_SPEC_CHARS - len(prefix) - 1) + '"'
    assert len(ok) == MAX_SPEC_CHARS == 4096
    assert parse_spec(ok)[1] == "x" * (MAX_SPEC_CHARS - 4)
    with pytest.raises(PredicateError, match="4097 chars; the limit is 4096"):
        parse_spec(ok + " ")


def test_count_cap() -> None:
    assert MAX_SPECS == 64
    assert len(parse_predicate([f"k{i}=1" for i in range(64)]).tests) == 64
    with pytest.raises(PredicateError, match="65 match specs; the limit is 64"):
        parse_predicate([f"k{i}=1" for i in range(65)])


def test_error_type() -> None:
    assert issubclass(PredicateError, ValueError)


def test_grouping_and_dedup() -> None:
    p = parse_predicate(["a=1", "b=2", "a=2", "a=1"])
    assert p == Predicate((KeyTest("a", (1, 2)), KeyTest("b", (2,))))
    # 1 and 1.0 are equal JSON numbers but distinct literals: both kept, both match 1.
    assert parse_predicate(["a=1", "a=1.0"]).tests[0].values == (1, 1.0)
    assert parse_predicate(["a=1", "a=true"]).tests[0].values == (1, True)


def test_single_string_none_and_empty() -> None:
    assert parse_predicate("a=1") == parse_predicate(["a=1"])
    assert parse_predicate(None) == Predicate() == parse_predicate([])
    assert Predicate().matches({}) is True
    assert Predicate().specs() == []


def test_specs_are_canonical_and_and_combines() -> None:
    p = parse_predicate(['a = "x"', "b=[1, 2]"])
    assert p.specs() == ['a="x"', "b=[1,2]"]
    both = p & parse_predicate(["a=3", "c=null"])
    assert both.specs() == ['a="x"', "a=3", "b=[1,2]", "c=null"]


def test_clause_path() -> None:
    assert KeyTest("fields.jobs.0.name", ("x",)).path == ("fields", "jobs", "0", "name")


# -- matching --------------------------------------------------------------------------


EVENT = {
    "source": "github",
    "event_type": "workflow_run",
    "fields": {
        "run_id": 12345,
        "run_id_text": "12345",
        "flag": True,
        "one": 1,
        "ratio": 1.0,
        "nothing": None,
        "jobs": [{"name": "build", "ok": True}, {"name": "test", "ok": False}],
        "labels": ["a", "b"],
        "obj": {"x": 1},
    },
}


def test_and_across_keys() -> None:
    assert matches(['source="github"', "fields.run_id=12345"], EVENT)
    assert not matches(['source="github"', "fields.run_id=1"], EVENT)
    assert not matches(['source="docker"', "fields.run_id=12345"], EVENT)


def test_or_within_a_repeated_key() -> None:
    assert matches(['source="docker"', 'source="github"'], EVENT)
    assert not matches(['source="docker"', 'source="fs"'], EVENT)
    # OR within, AND across:
    assert matches(['source="docker"', 'source="github"', "fields.one=1"], EVENT)
    assert not matches(['source="docker"', 'source="github"', "fields.one=2"], EVENT)


def test_types_are_exact() -> None:
    assert matches("fields.run_id=12345", EVENT)
    assert not matches('fields.run_id="12345"', EVENT)
    assert matches('fields.run_id_text="12345"', EVENT)
    assert not matches("fields.run_id_text=12345", EVENT)
    assert matches("fields.flag=true", EVENT)
    assert not matches("fields.flag=1", EVENT)
    assert not matches("fields.one=true", EVENT)
    assert not matches("fields.nothing=false", EVENT)
    assert not matches("fields.nothing=0", EVENT)


def test_numbers_compare_by_value() -> None:
    assert matches("fields.one=1.0", EVENT)
    assert matches("fields.ratio=1", EVENT)
    assert not matches("fields.ratio=1.5", EVENT)


def test_null_is_not_missing() -> None:
    assert matches("fields.nothing=null", EVENT)
    assert not matches("fields.absent=null", EVENT)
    assert not matches("fields.run_id=null", EVENT)


def test_nested_keys_and_list_indexes() -> None:
    assert matches('fields.jobs.0.name="build"', EVENT)
    assert matches('fields.jobs.1.name="test"', EVENT)
    assert matches("fields.jobs.1.ok=false", EVENT)
    assert not matches('fields.jobs.2.name="build"', EVENT)  # out of range
    assert not matches('fields.jobs.x.name="build"', EVENT)  # not an index
    assert not matches('fields.jobs.-1.name="test"', EVENT)
    assert not matches('fields.run_id.x="y"', EVENT)  # through a scalar
    assert matches('fields.labels.1="b"', EVENT)


def test_arrays_and_objects_compare_structurally() -> None:
    assert matches('fields.labels=["a","b"]', EVENT)
    assert not matches('fields.labels=["b","a"]', EVENT)
    assert not matches('fields.labels="a"', EVENT)  # no "contains" semantics
    assert matches('fields.obj={"x":1.0}', EVENT)
    assert not matches('fields.obj={"x":1,"y":2}', EVENT)
    assert matches('fields.jobs.0={"ok":true,"name":"build"}', EVENT)


def test_matches_on_an_event_frame_struct() -> None:
    frame = EventFrame(event_id="01ARZ3NDEKTSV4RRFFQ69G5FAV", event_type="t", source="s", fields={"status": "done"})
    assert matches(['source="s"', 'fields.status="done"', 'event_type="t"'], frame)
    assert not matches('fields.status="pending"', frame)
    assert not matches('nope="s"', frame)
    assert matches("owner=null", frame)  # a Struct attribute set to None is present


def test_lookup() -> None:
    assert lookup(EVENT, ("fields", "jobs", "1", "name")) == "test"
    assert lookup(EVENT, ("fields", "nothing")) is None
    assert lookup(EVENT, ("fields", "absent")) is MISSING
    assert lookup(EVENT, ("fields", "labels", "9")) is MISSING
    assert lookup("scalar", ("x",)) is MISSING
    assert lookup(EVENT, ()) is EVENT
    assert repr(MISSING) == "<missing>"


@pytest.mark.parametrize(
    ("a", "b", "equal"),
    [
        (1, 1.0, True),
        (0, -0.0, True),
        (True, 1, False),
        (False, 0, False),
        (True, True, True),
        (None, None, True),
        (None, 0, False),
        (None, "", False),
        ("1", 1, False),
        ([1, [2.0]], [1.0, [2]], True),
        ([1], [1, 1], False),
        ({"a": [True]}, {"a": [True]}, True),
        ({"a": 1}, {"b": 1}, False),
        ({"a": True}, {"a": 1}, False),
        ([], {}, False),
    ],
)
def test_json_equal(a: Any, b: Any, equal: bool) -> None:
    assert json_equal(a, b) is equal
    assert json_equal(b, a) is equal


# -- properties ------------------------------------------------------------------------

KEY = st.from_regex(r"[A-Za-z0-9_$@-]{1,6}", fullmatch=True)
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
JSONISH = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEY, inner, max_size=4),
    max_leaves=12,
)


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(KEY, min_size=1, max_size=3), JSONISH), max_size=10))
def test_property_specs_round_trip(pairs: list[tuple[list[str], Any]]) -> None:
    specs = [f"{'.'.join(path)}={to_json(value)}" for path, value in pairs]
    assume(all(len(s) <= MAX_SPEC_CHARS for s in specs))
    p = parse_predicate(specs)
    q = parse_predicate(p.specs())
    assert q == p
    assert q.specs() == p.specs()
    # Every parsed value equals (as JSON) the value it was written from.
    for path, value in pairs:
        clause = next(c for c in p.tests if c.key == ".".join(path))
        assert any(json_equal(value, v) for v in clause.values)


def all_paths(obj: Any, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    if prefix:
        out.append((prefix, obj))
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += all_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += all_paths(v, (*prefix, str(i)))
    return out


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(KEY, JSONISH, min_size=1, max_size=5), st.data())
def test_property_a_value_present_in_the_event_matches(event: dict[str, Any], data: st.DataObject) -> None:
    path, value = data.draw(st.sampled_from(all_paths(event)))
    key = ".".join(path)
    spec = f"{key}={to_json(value)}"
    assume(len(spec) <= MAX_SPEC_CHARS)
    assert parse_predicate(spec).matches(event)
    # The same value wrapped in a list is a different JSON value and must not match.
    assert not parse_predicate(f"{key}=[{to_json(value)}]").matches(event)
    # A key that is not there never matches, whatever the value.
    assert not parse_predicate(f"{key}.zz_absent_zz={to_json(value)}").matches(event)


def test_where_cost_counts_path_segments_and_value_nodes():
    from waitbus_wire import MAX_WHERE_COST, where_cost

    simple = parse_predicate(['source="github"', "fields.run.id=5"])
    assert simple.cost() == (1 + 1) + (3 + 1)
    assert where_cost([simple, parse_predicate([])]) == (1 + 6) + 1
    nested = parse_predicate('fields.x={"a":[1,2],"b":null}')  # object, 2 keys, list, 2 items, null
    assert nested.cost() == 2 + 7
    big = parse_predicate(f"fields.big={json.dumps([0] * 2000, separators=(',', ':'))}")
    assert where_cost([big]) > MAX_WHERE_COST  # the shape that slowed every subscriber

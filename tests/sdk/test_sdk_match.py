"""Matcher: what wait_for/subscribe arguments mean, with no hub involved."""

from __future__ import annotations

import pytest

from waitbus import EventFrame, Matcher, PredicateError, register_condition, register_evaluator
from waitbus_wire import clause_specs


def frame(source: str = "agent", event_type: str = "e", **fields: object) -> EventFrame:
    return EventFrame(
        event_id="01" + "0" * 24,
        event_type=event_type,
        source=source,
        fields={"source": source, "event_type": event_type, **fields},
    )


def test_match_source_and_to_are_anded():
    m = Matcher("fields.n=1", source="agent", to="bob")
    assert m.offer(frame(n=1, msg_to="bob"))
    assert not m.offer(frame(n=1, msg_to="alice"))
    assert not m.offer(frame("pytest", n=1, msg_to="bob"))
    assert m.hub_where() == [["fields.n=1", 'source="agent"', 'fields.msg_to="bob"']]


def test_all_of_is_sticky_across_events_and_first_of_is_not():
    all_of = Matcher(all_of=['pytest:fields.outcome="passed"', 'docker:fields.action="die"'])
    assert not all_of.offer(frame("pytest", outcome="passed"))
    assert not all_of.offer(frame("fs", path="x"))
    assert all_of.offer(frame("docker", action="die"))
    first_of = Matcher(first_of=['pytest:fields.outcome="failed"', 'docker:fields.action="die"'])
    assert not first_of.offer(frame("pytest", outcome="passed"))
    assert first_of.offer(frame("docker", action="die"))


def test_clause_source_prefix_is_optional_and_json_colons_are_not_a_source():
    assert clause_specs("pytest:fields.x=1") == ['source="pytest"', "fields.x=1"]
    assert clause_specs('fields.x={"a":1}') == ['fields.x={"a":1}']
    assert clause_specs(["fields.x=1", "fields.y=2"]) == ["fields.x=1", "fields.y=2"]


def test_a_clause_that_is_neither_text_nor_a_list_of_specs_is_a_predicate_error():
    with pytest.raises(PredicateError, match="must be a string"):
        clause_specs(["fields.x=1", 3])  # type: ignore[list-item]
    with pytest.raises(PredicateError, match="a clause is a string or a list"):
        clause_specs(3)  # type: ignore[arg-type]


def test_all_of_starts_a_fresh_set_after_each_completed_one():
    m = Matcher(all_of=["fields.a=1", "fields.b=1"])
    assert not m.offer(frame(a=1))
    assert m.offer(frame(b=1))
    # the set just completed is spent: b alone again does not complete a new one
    assert not m.offer(frame(b=1))
    assert m.offer(frame(a=1))


def test_base_predicate_applies_to_every_clause():
    m = Matcher('fields.repo="a"', first_of=["fields.x=1", "fields.y=2"])
    assert m.hub_where() == [['fields.repo="a"', "fields.x=1"], ['fields.repo="a"', "fields.y=2"]]
    assert not m.offer(frame(x=1, repo="b"))
    assert m.offer(frame(y=2, repo="a"))


def test_all_of_and_first_of_together_is_an_error():
    with pytest.raises(PredicateError, match="not both"):
        Matcher(all_of=["fields.x=1"], first_of=["fields.y=1"])


def test_named_conditions():
    register_condition("green", ['fields.conclusion="success"'])
    m = Matcher(cond="green")
    assert m.offer(frame(conclusion="success")) and not m.offer(frame(conclusion="failure"))
    with pytest.raises(PredicateError, match="unknown condition 'nope'"):
        Matcher(cond="nope")
    with pytest.raises(PredicateError):
        register_condition("broken", "no-equals")


def test_evaluators_run_client_side_and_disable_hub_filtering():
    register_evaluator("gt", lambda expr: lambda f: f.fields.get("n", 0) > int(expr))
    m = Matcher("gt:5")
    assert m.hub_where() is None  # the hub cannot evaluate it, so it must send everything
    assert m.offer(frame(n=6)) and not m.offer(frame(n=5))
    mixed = Matcher(["gt:5", 'fields.kind="x"'])
    assert mixed.hub_where() == [['fields.kind="x"']]
    assert not mixed.offer(frame(n=9, kind="y"))


def test_bad_predicates_fail_before_any_connection():
    with pytest.raises(PredicateError, match="double quotes"):
        Matcher("fields.status=completed")


def test_a_source_declares_a_predicate_language_and_its_failures_through_the_plugin_door():
    from waitbus import SourceSpec, find_source, is_failure, register_source

    register_source(
        SourceSpec(
            name="kite",
            evaluators={"kite.above": lambda expr: lambda f: f.fields.get("n", 0) > int(expr)},
            is_failure=lambda f: f.fields.get("ok") is False,
        )
    )
    assert find_source("kite") is not None
    m = Matcher(["kite.above:2"], source="kite")
    assert m.offer(frame("kite", n=3)) and not m.offer(frame("kite", n=2))
    assert m.hub_where() == [['source="kite"']]  # the grammar part still reaches the hub
    assert is_failure(frame("kite", ok=False)) and not is_failure(frame("kite", ok=True))
    assert not is_failure(frame("nosuchsource", ok=False))


def test_a_language_must_be_named_after_its_source_and_an_unknown_one_says_which_source_is_missing():
    from waitbus import SourceSpec

    with pytest.raises(ValueError, match=r"must be named kite2\.<language>"):
        SourceSpec(name="kite2", evaluators={"other.x": lambda expr: lambda f: True})
    with pytest.raises(PredicateError, match="source 'nosuch', which is not installed"):
        Matcher(["nosuch.lang:1"])
    with pytest.raises(PredicateError, match="no predicate language 'nolang' is registered"):
        Matcher(["nolang:1"])


def test_a_where_the_hub_would_refuse_as_too_costly_is_filtered_on_the_client():
    import json

    from waitbus_wire import MAX_WHERE_COST, parse_predicate, where_cost

    costly = Matcher(f"fields.big={json.dumps([0] * MAX_WHERE_COST)}")
    assert costly.hub_where() is None
    assert costly.offer(frame(big=[0] * MAX_WHERE_COST))
    assert not costly.offer(frame(big=[1] * MAX_WHERE_COST))
    where = Matcher("fields.n=1").hub_where()
    assert where is not None and where_cost(parse_predicate(w) for w in where) <= MAX_WHERE_COST

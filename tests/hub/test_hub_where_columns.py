"""The hub tests a `where` on the row's text columns by set lookup, without decoding
the fields (_subscriber._Alternative); it must agree with the wire's predicate on the
full event for every predicate and row, JSON types included."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_hub._rows import Prepared
from waitbus_hub._subscriber import _Alternative
from waitbus_store import Row
from waitbus_wire import KeyTest, Predicate

COLUMNS = ["event_id", "event_type", "source", "owner", "repo", "delivery_id", "summary"]
texts = st.sampled_from(["a", "b", "1", "null", ""])
json_values: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    texts,
    st.lists(texts, max_size=2),
)
keys = st.sampled_from([*COLUMNS, "fields.x", "fields.y", "received_at", "fields"])


@st.composite
def rows(draw: st.DrawFn) -> Row:
    col = {c: draw(texts) for c in COLUMNS}
    for c in ("owner", "repo"):
        col[c] = draw(st.one_of(st.none(), texts))
    fields = draw(st.dictionaries(st.sampled_from(["x", "y"]), json_values, max_size=2))
    return Row(
        1, col["event_id"], col["source"], col["event_type"], col["owner"], col["repo"], 5,
        col["delivery_id"], col["summary"], json.dumps(fields),
    )  # fmt: skip


@st.composite
def predicates(draw: st.DrawFn) -> Predicate:
    tests = draw(st.lists(st.tuples(keys, st.lists(json_values, min_size=1, max_size=3)), max_size=3))
    return Predicate(tuple(KeyTest(k, tuple(v)) for k, v in tests))


@settings(max_examples=400, deadline=None)
@given(rows(), predicates())
def test_column_tests_agree_with_the_full_predicate(row: Row, predicate: Predicate) -> None:
    prepared = Prepared(row)
    view = prepared.view()
    assert view is not None
    assert _Alternative(predicate).matches(prepared) == predicate.matches(view)


def test_a_source_where_never_decodes_the_fields() -> None:
    row = Row(1, "01H", "pytest", "t", None, None, 5, "d", "s", "not json")
    prepared = Prepared(row)
    assert _Alternative(Predicate((KeyTest("source", ("pytest",)),))).matches(prepared)
    assert prepared._view is False  # never decoded
    assert not _Alternative(Predicate((KeyTest("source", ("other",)),))).matches(prepared)

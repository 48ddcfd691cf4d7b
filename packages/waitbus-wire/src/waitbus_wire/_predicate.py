"""The match grammar: `dotted.key=<json literal>`, and clauses built from it.

Specs AND across keys and OR within a repeated key. A *clause* is one alternative of an
all-of / first-of (or of a subscribe's `where`): an AND of specs, written as a list of
specs or as one `source:key=json` string (the `source:` part optional). The right side is JSON, so types
are exact: `fields.run_id=12345` is a number and never matches the string "12345";
`true` never matches `1`; `=null` matches a key present with null, not a missing key.
Numbers compare by value (JSON has one number type, so 1 equals 1.0).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence

from ._errors import WireError

TYPE_CHECKING = False  # not `from typing import ...`: producers' start-up pays every import
if TYPE_CHECKING:
    from typing import Any

MAX_SPEC_CHARS = 4096
MAX_SPECS = 64
# Matching recurses once per level of the value, in the hub's only thread: a bound here
# keeps a deep predicate meeting a deep event from exhausting the interpreter's stack.
MAX_VALUE_DEPTH = 32
# The hub matches a subscription's `where` against every event in its only thread, so
# one subscription could slow every other (50 of them comparing 2,000-element lists
# once made each event take 420 ms). Its worst-case work per event is bounded when it
# subscribes: see where_cost. 128 units are 0.05 to 0.2 ms of matching per event on a
# loaded 2-core box. A waiter whose `where` costs more is filtered by its SDK instead.
MAX_WHERE_COST = 128
_KEY_RE = re.compile(r"^[A-Za-z0-9_$@-]+(\.[A-Za-z0-9_$@-]+)*$")
# `name:rest` where name has no `=`: a source shorthand (in a clause) or an evaluator (in a spec)
PREFIX_RE = re.compile(r"^([a-z][a-z0-9_.-]{0,63}):(.*)$", re.S)

Clause = str | Sequence[str]


class PredicateError(WireError):
    """A predicate that cannot be parsed; the message says how to write it."""


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def lookup(obj: Any, path: tuple[str, ...]) -> Any:
    """Follow a dotted path through mappings, Structs and lists (digit segments
    index lists). Returns MISSING where the path does not exist."""
    cur = obj
    for seg in path:
        if isinstance(cur, Mapping):
            cur = cur.get(seg, MISSING)
        elif isinstance(cur, list):
            if not seg.isdigit() or int(seg) >= len(cur):
                return MISSING
            cur = cur[int(seg)]
        elif seg in getattr(cur, "__struct_fields__", ()):  # an EventFrame (msgspec Struct)
            cur = getattr(cur, seg)
        else:
            return MISSING
        if cur is MISSING:
            return MISSING
    return cur


def json_equal(a: Any, b: Any) -> bool:
    """Equality with JSON's types: bool, number, string, null, array, object."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if a is None or b is None:
        return a is b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return False


class KeyTest:
    """One key of a predicate and the values it may take (OR). Plain slotted class, not a
    dataclass: `dataclasses` imports `inspect`, ~5 ms on every `waitbus emit`."""

    __slots__ = ("key", "path", "values")

    def __init__(self, key: str, values: tuple[Any, ...]) -> None:
        self.key = key
        self.values = values
        self.path = tuple(key.split("."))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyTest) and (self.key, self.values) == (other.key, other.values)

    def __hash__(self) -> int:
        return hash((self.key, self.values))

    def __repr__(self) -> str:
        return f"KeyTest({self.key!r}, {self.values!r})"

    def matches(self, event: Any) -> bool:
        got = lookup(event, self.path)
        if got is MISSING:
            return False
        return any(json_equal(got, v) for v in self.values)


class Predicate:
    """AND of key tests. The empty predicate matches everything."""

    __slots__ = ("tests",)

    def __init__(self, tests: tuple[KeyTest, ...] = ()) -> None:
        self.tests = tests

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Predicate) and self.tests == other.tests

    def __hash__(self) -> int:
        return hash(self.tests)

    def __repr__(self) -> str:
        return f"Predicate({self.tests!r})"

    def matches(self, event: Any) -> bool:
        return all(c.matches(event) for c in self.tests)

    def cost(self) -> int:
        """Work units to match one event in the worst case: per key test, one per path
        segment looked up and, per value, one per JSON node compared (json_equal walks
        at most the value's nodes before it answers)."""
        return sum(len(t.path) + sum(_nodes(v) for v in t.values) for t in self.tests)

    def specs(self) -> list[str]:
        """Canonical spec strings, parseable back into an equal predicate."""
        return [f"{c.key}={_dumps(v)}" for c in self.tests for v in c.values]

    def __and__(self, other: Predicate) -> Predicate:
        return parse_predicate(self.specs() + other.specs())


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_spec(spec: str) -> tuple[str, Any]:
    """Split one `key=json` spec into its key and decoded value."""
    if not isinstance(spec, str):
        raise PredicateError(f"a match spec must be a string, got {type(spec).__name__}")
    if len(spec) > MAX_SPEC_CHARS:
        raise PredicateError(f"match spec is {len(spec)} chars; the limit is {MAX_SPEC_CHARS}")
    key, sep, raw = spec.partition("=")
    key = key.strip()
    if not sep:
        raise PredicateError(f"match spec {spec!r} has no '=': write key=<json>, e.g. fields.status=\"completed\"")
    if not _KEY_RE.match(key):
        raise PredicateError(f"bad key {key!r} in {spec!r}: use dotted names like fields.event_type")
    try:
        value = json.loads(raw.strip(), parse_constant=_no_constant)
    except RecursionError:
        raise PredicateError(f"the value of {key!r} is nested more than {MAX_VALUE_DEPTH} levels deep") from None
    except ValueError:
        raise PredicateError(
            f"the value in {spec!r} is not a JSON literal; strings need double quotes: "
            f'{key}="{raw.strip()}" (numbers, true/false/null unquoted)'
        ) from None
    if _depth(value) > MAX_VALUE_DEPTH:
        raise PredicateError(f"the value of {key!r} is nested more than {MAX_VALUE_DEPTH} levels deep")
    return key, value


def where_cost(predicates: Iterable[Predicate]) -> int:
    """The worst-case work of one `where` (an OR of predicates) per event, in the
    units of MAX_WHERE_COST; the hub refuses a subscription above it."""
    return sum(1 + p.cost() for p in predicates)


def _nodes(value: Any) -> int:
    """How many JSON values a decoded value holds, itself included (a scalar is 1)."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.values())
            count += len(item)  # each key is compared too
        elif isinstance(item, list):
            stack.extend(item)
    return count


def _depth(value: Any) -> int:
    """How deeply arrays and objects nest in a decoded JSON value (a scalar is 0)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, list | dict):
            level += 1
            deepest = max(deepest, level)
            stack.extend((child, level) for child in (item.values() if isinstance(item, dict) else item))
    return deepest


def parse_predicate(specs: str | Iterable[str] | None) -> Predicate:
    """Parse one spec or several into a Predicate (AND across keys, OR within one)."""
    if specs is None:
        return Predicate()
    items = [specs] if isinstance(specs, str) else list(specs)
    if len(items) > MAX_SPECS:
        raise PredicateError(f"{len(items)} match specs; the limit is {MAX_SPECS}")
    grouped: dict[str, list[Any]] = {}
    for spec in items:
        key, value = parse_spec(spec)
        alts = grouped.setdefault(key, [])
        if not any(json_equal(value, v) and type(value) is type(v) for v in alts):
            alts.append(value)
    return Predicate(tuple(KeyTest(k, tuple(v)) for k, v in grouped.items()))


def clause_specs(clause: Clause) -> list[str]:
    """The specs one clause ANDs: `source:key=json` becomes `source="source"` and
    `key=json`; a string without the prefix is one spec; a list is taken as it is.
    Only the grammar is read here: a spec may still be an evaluator's `name:text`."""
    if isinstance(clause, str):
        m = PREFIX_RE.match(clause)
        if m and "=" not in m.group(1):
            return [f"source={json.dumps(m.group(1))}", m.group(2)]
        return [clause]
    if not isinstance(clause, Sequence):
        raise PredicateError(f"a clause is a string or a list of specs, got {type(clause).__name__}")
    items = list(clause)
    for item in items:
        if not isinstance(item, str):
            raise PredicateError(f"a match spec must be a string, got {type(item).__name__}")
    return items

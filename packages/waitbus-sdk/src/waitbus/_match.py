"""The consumer's matcher: turns wait_for/subscribe arguments into (a) the predicates the
hub applies before sending, so a waiter is sent only candidates, and (b) the full
client-side test, including evaluator languages and all-of stickiness."""

from __future__ import annotations

import json

from waitbus_wire import PREFIX_RE, PredicateError, clause_specs, parse_predicate

from ._registry import condition, evaluator

TYPE_CHECKING = False  # not `from typing import ...`: see `waitbus wait`'s start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from waitbus_wire import Clause, EventFrame

    Test = Callable[[EventFrame], bool]


class Alternative:
    """One compiled clause: an AND of grammar specs plus client-only evaluator tests.
    A plain slotted class, not a dataclass: `dataclasses` imports `inspect` (~5 ms)."""

    __slots__ = ("predicate", "specs", "tests")

    def __init__(self, specs: list[str] | None = None, tests: list[Test] | None = None) -> None:
        self.specs: list[str] = [] if specs is None else specs
        self.tests: list[Test] = [] if tests is None else tests
        self.predicate = parse_predicate(self.specs)

    def joined(self, other: Alternative) -> Alternative:
        return Alternative(self.specs + other.specs, self.tests + other.tests)

    def matches(self, frame: EventFrame) -> bool:
        return self.predicate.matches(frame) and all(t(frame) for t in self.tests)


def _compile(items: Sequence[str]) -> Alternative:
    """Split specs into grammar specs and `name:text` evaluator tests."""
    specs: list[str] = []
    tests: list[Test] = []
    for item in items:
        if not isinstance(item, str):
            raise PredicateError(f"a match spec must be a string, got {type(item).__name__}")
        m = PREFIX_RE.match(item)
        if m is None:
            specs.append(item)
            continue
        compile_fn = evaluator(m.group(1))
        if compile_fn is None:
            source = m.group(1).partition(".")[0]
            hint = f"; it would come from the source {source!r}, which is not installed" if "." in m.group(1) else ""
            raise PredicateError(f"{item!r}: no predicate language {m.group(1)!r} is registered{hint}")
        tests.append(compile_fn(m.group(2)))
    return Alternative(specs, tests)


class Matcher:
    """The whole test of a wait or a subscription, fed one event at a time.

    `match` specs, `source`, `to` and `cond` AND into a base every event must meet;
    `all_of` / `first_of` clauses (see `waitbus_wire.clause_specs`) each AND with it.
    `offer()` is True for an event that satisfies the wait; with `all_of` that is the
    event completing the set, after which the set starts empty again (so a stream
    yields once per fresh set).
    """

    def __init__(
        self,
        match: str | Sequence[str] | None = None,
        *,
        source: str | None = None,
        to: str | None = None,
        cond: str | None = None,
        all_of: Sequence[Clause] | None = None,
        first_of: Sequence[Clause] | None = None,
    ) -> None:
        if all_of and first_of:
            raise PredicateError("use all_of or first_of, not both")
        base = _compile([] if match is None else [match] if isinstance(match, str) else list(match))
        extra: list[str] = []
        if source is not None:
            # json.dumps escapes what has no UTF-8 form (a lone surrogate) instead of raising
            extra.append(f"source={json.dumps(source)}")
        if to is not None:
            extra.append(f"fields.msg_to={json.dumps(to)}")
        if cond is not None:
            extra.extend(condition(cond))
        self.base = base.joined(Alternative(extra))
        self.sticky = bool(all_of)
        clauses = all_of or first_of or []
        self.clauses = [self.base.joined(_compile(clause_specs(c))) for c in clauses]
        self.met: set[int] = set()

    def hub_where(self) -> list[list[str]] | None:
        """The OR-of-ANDs the hub may apply; None when everything must be sent."""
        from waitbus_wire import MAX_WHERE_CLAUSES, MAX_WHERE_COST, where_cost

        alts = self.clauses or [self.base]
        where = [a.specs for a in alts]
        # An alternative with no grammar specs (only evaluators) needs every event, and
        # the hub refuses a subscribe with more alternatives, or costlier matching, than
        # it takes: then this client filters every event itself.
        if any(not specs for specs in where) or len(where) > MAX_WHERE_CLAUSES:
            return None
        if where_cost(a.predicate for a in alts) > MAX_WHERE_COST:
            return None
        return where

    def offer(self, frame: EventFrame) -> bool:
        """Feed one event; True when the wait is satisfied (for all-of: every clause
        has been met by some event so far, this one completing it)."""
        if not self.clauses:
            return self.base.matches(frame)
        hit = False
        for i, alt in enumerate(self.clauses):
            if alt.matches(frame):
                hit = True
                self.met.add(i)
        if not self.sticky:
            return hit
        if hit and len(self.met) == len(self.clauses):
            self.met.clear()
            return True
        return False

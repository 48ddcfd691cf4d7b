"""In-process plugin hooks: named conditions and extra predicate languages."""

from __future__ import annotations

from waitbus_wire import PredicateError, check_name, parse_predicate

TYPE_CHECKING = False  # not `from typing import ...`: see `waitbus wait`'s start-up
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from waitbus_wire import EventFrame

    Evaluator = Callable[[str], Callable[[EventFrame], bool]]


_conditions: dict[str, list[str]] = {}
_evaluators: dict[str, Evaluator] = {}


def register_condition(name: str, match: str | Sequence[str]) -> None:
    """Name a predicate so `wait_for(cond=NAME)` / `waitbus wait --cond NAME` can use it."""
    check_name("condition name", name)
    specs = [match] if isinstance(match, str) else list(match)
    parse_predicate(specs)  # fail now, not at wait time
    _conditions[name] = specs


def condition(name: str) -> list[str]:
    try:
        return _conditions[name]
    except KeyError:
        known = ", ".join(sorted(_conditions)) or "none registered"
        raise PredicateError(f"unknown condition {name!r} (known: {known})") from None


def register_evaluator(prefix: str, compile_fn: Evaluator) -> None:
    """Add a predicate language: a match spec `PREFIX:EXPR` is compiled by
    `compile_fn(EXPR)` into a test on EventFrame. Evaluated client-side only."""
    check_name("evaluator prefix", prefix)
    _evaluators[prefix] = compile_fn


def evaluator(prefix: str) -> Evaluator | None:
    """The compile function for `prefix`: registered in-process, else declared by the
    installed source the prefix names (`github.sha` -> source `github`)."""
    found = _evaluators.get(prefix)
    if found is None and "." in prefix:
        from ._sources import find_source

        spec = find_source(prefix.partition(".")[0])
        found = spec.evaluators.get(prefix) if spec is not None else None
    return found

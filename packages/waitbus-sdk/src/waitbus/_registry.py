"""In-process plugin hooks: named conditions, extra predicate languages, sources."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from waitbus_wire import EventFrame, PredicateError, check_name, parse_predicate

Evaluator = Callable[[str], Callable[[EventFrame], bool]]


@dataclass(frozen=True)
class SourceSpec:
    """What a source declares about itself (the `waitbus.sources.v1` contract)."""

    name: str
    event_types: tuple[str, ...] = ()
    summary: str = ""
    entity_key: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)


_conditions: dict[str, list[str]] = {}
_evaluators: dict[str, Evaluator] = {}
_sources: dict[str, SourceSpec] = {}


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
    return _evaluators.get(prefix)


def register_source(spec: SourceSpec | str, **kwargs: object) -> SourceSpec:
    """Declare a source in-process (the same contract as the entry-point group)."""
    if isinstance(spec, str):
        spec = SourceSpec(name=spec, **kwargs)  # type: ignore[arg-type]
    check_name("source name", spec.name)
    for t in spec.event_types:
        check_name("event type", t)
    _sources[spec.name] = spec
    return spec


def registered_sources() -> dict[str, SourceSpec]:
    return dict(_sources)

"""What may leave this machine: an OR of AND-lists of `key=json` specs (the wire grammar),
built from the same flags `waitbus wait` takes. Nothing leaves unless one is given.

Events that came in over a bridge (their fields carry REMOTE_KEY) never leave again, so
two bridged buses never echo each other's events back and forth.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from waitbus_wire import EventFrame, Predicate, PredicateError, check_name, clause_specs, parse_predicate

REMOTE_KEY = "remote"  # fields.remote = {"host", "event_id", "received_at"} on bridged-in events


def is_bridged(fields: dict[str, Any]) -> bool:
    """True for an event a bridge stored here on behalf of another machine."""
    remote = fields.get(REMOTE_KEY)
    return isinstance(remote, dict) and "host" in remote and "event_id" in remote


class OutboundFilter:
    """The alternatives (each an AND of specs); an event leaves if any one matches."""

    def __init__(self, alternatives: tuple[tuple[str, ...], ...]) -> None:
        self.alternatives = alternatives
        self._compiled: tuple[Predicate, ...] = tuple(parse_predicate(list(a)) for a in alternatives)

    def wants(self, frame: EventFrame) -> bool:
        if is_bridged(frame.fields):
            return False
        return any(p.matches(frame) for p in self._compiled)

    def clauses(self) -> list[list[str]]:
        """The alternatives as `first_of` clauses for waitbus.subscribe."""
        return [list(a) for a in self.alternatives]

    def describe(self) -> str:
        if self.alternatives == ((),):
            return "every local event"
        return " OR ".join("(" + " AND ".join(a) + ")" for a in self.alternatives)


def build_filter(
    *,
    match: Sequence[str] = (),
    source: str | None = None,
    first_of: Sequence[str] = (),
    everything: bool = False,
) -> OutboundFilter | None:
    """The outbound filter for these flags, or None when nothing may leave.

    `match` specs AND together (OR within a repeated key), `source` adds a clause,
    and each `first_of` clause is one alternative combined with both. `everything`
    must be said explicitly and cannot be combined. Raises PredicateError (a
    ValueError) with the fix in the message.
    """
    base = list(match)
    if source is not None:
        check_name("source", source)
        base.append(f"source={json.dumps(source)}")
    if everything:
        if base or first_of:
            raise PredicateError("--all sends every event: do not combine it with --match/--source/--first-of")
        return OutboundFilter(((),))
    if first_of:
        alternatives = tuple(tuple(base + clause_specs(c)) for c in first_of)
    elif base:
        alternatives = (tuple(base),)
    else:
        return None
    return OutboundFilter(alternatives)

"""What an event is about (its entity), the entity's state after it, and whether it is
a failure: one computation for `waitbus top`, `replay --coalesce`, `events analyze`
and the MCP server's per-source state.

An entity is the thing whose newest event is its current state: a GitHub run or job,
a docker container, a pytest session, a watched path, an agent conversation. A source
names its entity fields in its SourceSpec (`entity_key`); the table below covers the
sources that do not, and gives the fields a readable kind. Anything else is keyed by
source and event type.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waitbus_wire import EventFrame

# source -> (field, kind), most specific first: the default entity key and the words
# shown for it.
_ENTITY_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "github": (("job_id", "ci job"), ("run_id", "ci run")),
    "docker": (
        ("container_id", "container"),
        ("container", "container"),
        ("container_name", "container"),
        ("name", "container"),
        ("id", "container"),
    ),
    "pytest": (("rootdir", "test session"),),
    "fs": (("path", "path"),),
    "agent": (("msg_thread", "agent thread"),),
}
_STATE_FIELDS = ("conclusion", "outcome", "status", "state", "action", "change", "result")
_FAILED_VALUES = frozenset(
    {"failure", "failed", "error", "errored", "cancelled", "timed_out", "startup_failure", "interrupted", "unhealthy"}
)

EntityKeys = Mapping[str, Sequence[str]]  # source -> dotted paths ("fields.job_id"), a SourceSpec's entity_key


def entity_of(frame: EventFrame, keys: EntityKeys | None = None) -> tuple[str, str]:
    """(kind, name) of the entity an event is about: the first of its source's entity
    fields that it carries, trying `keys` (the installed sources' SourceSpec.entity_key)
    first, then the built-in table."""
    from waitbus_wire import MISSING, lookup

    kinds = dict(_ENTITY_FIELDS.get(frame.source, ()))
    paths = dict.fromkeys([*(keys or {}).get(frame.source, ()), *(f"fields.{name}" for name in kinds)])
    for path in paths:
        value = lookup(frame, tuple(path.split(".")))
        if value is not MISSING and value is not None and value != "" and not isinstance(value, dict | list):
            name = path.removeprefix("fields.")
            return kinds.get(name, name), str(value)
    return "event", f"{frame.source}/{frame.event_type}"


def entity_key(frame: EventFrame, keys: EntityKeys | None = None) -> str:
    kind, name = entity_of(frame, keys)
    return f"{frame.source}|{kind}|{name}"


def state_of(frame: EventFrame) -> str:
    """A short word for the entity's state after this event."""
    f = frame.fields
    if frame.source == "github" and f.get("conclusion") is None and f.get("status"):
        return str(f["status"])  # a run in progress has a null conclusion
    if frame.source == "agent" and "msg_from" in f:
        return f"{f.get('msg_from')} -> {f.get('msg_to')}" + (" (reply)" if f.get("msg_reply_to") else "")
    for key in _STATE_FIELDS:
        value = f.get(key)
        if value is not None and not isinstance(value, dict | list):
            code = f.get("exit_code")
            return f"{value} (exit {code})" if key == "action" and code is not None else str(value)
    return frame.event_type


def looks_failed(source: str, fields: Mapping[str, Any]) -> bool:
    """True for a failed/cancelled run, a failed test session, a container that died
    non-zero or ran out of memory, and the like: a heuristic over common field names
    for colouring entities. A source's own verdict is `waitbus.is_failure(frame)`."""
    for key in ("conclusion", "outcome", "status", "state", "result", "health_status"):
        value = fields.get(key)
        if isinstance(value, str) and value.lower() in _FAILED_VALUES:
            return True
    action = fields.get("action")
    if action == "oom":
        return True
    code = fields.get("exit_code")
    if action == "die" and isinstance(code, int) and not isinstance(code, bool) and code != 0:
        return True
    failed = fields.get("failed")
    return source == "pytest" and isinstance(failed, int) and not isinstance(failed, bool) and failed > 0


@dataclass
class EntityState:
    """One entity and the event that set its current state."""

    kind: str
    name: str
    state: str
    failed: bool
    frame: EventFrame
    events: int = 1

    @property
    def source(self) -> str:
        return self.frame.source


class EntityBoard:
    """The newest state per entity, folded from events in commit order."""

    def __init__(self, keys: EntityKeys | None = None) -> None:
        self.keys = keys
        self._rows: dict[str, EntityState] = {}

    def fold(self, frame: EventFrame) -> EntityState:
        key = entity_key(frame, self.keys)
        kind, name = entity_of(frame, self.keys)
        old = self._rows.pop(key, None)  # re-insert: the dict stays ordered by last update
        row = EntityState(
            kind, name, state_of(frame), looks_failed(frame.source, frame.fields), frame, (old.events + 1) if old else 1
        )
        self._rows[key] = row
        return row

    def newest_first(self) -> list[EntityState]:
        return list(reversed(self._rows.values()))

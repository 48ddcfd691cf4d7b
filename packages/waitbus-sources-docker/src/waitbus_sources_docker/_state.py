"""The resume cursor, kept in <state dir>/docker-events.json and replaced atomically.

The cursor is the newest engine event time seen (the engine's clock, in ns). On a
(re)connect the runner asks the engine for events `since` a little before it (the engine
takes whole seconds, and events written by different podman processes can land slightly
out of order), then drops what it already handled: anything older than the cursor minus
SLACK_NS, and any delivery id in `recent` (the ids emitted within that slack window).
The log's own dedup on delivery id is the backstop, so a crash between emit and save
can repeat an emit() call but never store an event twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILENAME = "docker-events.json"
SLACK_NS = 2_000_000_000
MAX_RECENT = 4096
MAX_HEALTH = 512
_VERSION = 1


@dataclass
class Cursor:
    time_ns: int | None = None
    # a hard floor: nothing before it is ever wanted (the first start, or --since)
    start_ns: int | None = None
    # delivery id -> engine time, for the ids emitted within SLACK_NS of the cursor
    recent: dict[str, int] = field(default_factory=dict)
    # container id -> last health status emitted (podman reports every check run, not
    # only changes; only a change is worth an event)
    health: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def starting_at(cls, time_ns: int, health: dict[str, str | None] | None = None) -> Cursor:
        """A cursor that wants the events from `time_ns` on, and nothing before it."""
        return cls(time_ns=time_ns, start_ns=time_ns, health=dict(health or {}))

    def floor_ns(self) -> int:
        """Events older than this were handled before (or are not wanted): a replay skips them."""
        slack = 0 if self.time_ns is None else self.time_ns - SLACK_NS
        return max(slack, self.start_ns or 0)

    def since_seconds(self) -> int | None:
        """The `since=` to ask the engine for (whole seconds), None for "from now"."""
        if self.time_ns is None and self.start_ns is None:
            return None
        return max(0, self.floor_ns() // 1_000_000_000)

    def seen(self, delivery_id: str) -> bool:
        return delivery_id in self.recent

    def advance(self, time_ns: int) -> None:
        if self.time_ns is None or time_ns > self.time_ns:
            self.time_ns = time_ns

    def record(self, delivery_id: str, time_ns: int) -> None:
        self.recent[delivery_id] = time_ns
        self.advance(time_ns)
        self._prune()

    def set_health(self, container_id: str, status: str | None) -> None:
        self.health.pop(container_id, None)  # re-insert: the dict's order is recency
        self.health[container_id] = status
        while len(self.health) > MAX_HEALTH:
            del self.health[next(iter(self.health))]

    def _prune(self) -> None:
        floor = self.floor_ns()
        if any(t < floor for t in self.recent.values()) or len(self.recent) > MAX_RECENT:
            keep = sorted(((t, d) for d, t in self.recent.items() if t >= floor), reverse=True)[:MAX_RECENT]
            self.recent = {d: t for t, d in sorted(keep)}

    def to_json(self) -> dict[str, Any]:
        self._prune()
        return {
            "version": _VERSION,
            "time_ns": self.time_ns,
            "start_ns": self.start_ns,
            "recent": self.recent,
            "health": self.health,
        }

    @classmethod
    def from_json(cls, data: Any) -> Cursor:
        """Raises ValueError on anything but what to_json wrote."""
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            raise ValueError("not a version 1 docker cursor")
        time_ns = _opt_ns(data, "time_ns")
        start_ns = _opt_ns(data, "start_ns")
        recent = data.get("recent", {})
        health = data.get("health", {})
        if not isinstance(recent, dict) or not all(isinstance(v, int) for v in recent.values()):
            raise ValueError("bad recent ids")
        if not isinstance(health, dict) or not all(v is None or isinstance(v, str) for v in health.values()):
            raise ValueError("bad health map")
        return cls(time_ns=time_ns, start_ns=start_ns, recent=dict(recent), health=dict(health))


def _opt_ns(data: dict[str, Any], key: str) -> int | None:
    value = data.get(key)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ValueError(f"bad {key} {value!r}")
    return value


def load(path: Path) -> tuple[Cursor, str | None]:
    """The saved cursor (an empty one if there is none) and a warning if the file was
    unreadable (then the runner starts from now rather than refusing to run)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Cursor(), None
    except OSError as exc:
        return Cursor(), f"cannot read the cursor {path}: {exc}; starting from now"
    try:
        return Cursor.from_json(json.loads(text)), None
    except ValueError as exc:
        return Cursor(), f"ignoring the unreadable cursor {path} ({exc}); starting from now"


def save(path: Path, cursor: Cursor) -> None:
    """Write-to-temp, fsync, rename: a crash leaves the old cursor or the new one, never half."""
    from waitbus_store import write_json_atomic

    write_json_atomic(path, cursor.to_json(), indent=None)

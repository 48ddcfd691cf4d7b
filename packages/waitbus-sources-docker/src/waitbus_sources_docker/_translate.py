"""Engine event -> `docker_container` event: pure functions, no docker import.

Docker and podman's Docker-compatible API send the same shape (`Type`, `Action`,
`Actor.ID`, `Actor.Attributes`, `time`, `timeNano`) with a few differences this module
absorbs: Docker writes health as `Action: "health_status: healthy"`, podman 4 as a bare
`health_status` with no status at all (the runner then asks the engine); Docker puts the
signal of a `kill` in `Attributes.signal`, podman sends none.
"""

from __future__ import annotations

import signal as _signal
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SOURCE_NAME = "docker"
EVENT_TYPE = "docker_container"

# The lifecycle points worth waking someone for; create/init/cleanup/remove/exec_* are noise.
ACTIONS = frozenset({"start", "die", "stop", "kill", "oom", "health_status"})

# Actor attributes the engine sets itself; every other attribute is a container label.
_ENGINE_ATTRIBUTES = frozenset(
    {"image", "name", "exitCode", "containerExitCode", "podId", "signal", "health_status", "execID", "execDuration"}
)
# Labels are bounded so one container with a huge label set cannot bloat every event
# (fields are capped at 48 KiB): the first MAX_LABELS by key, keys and values clipped.
MAX_LABELS = 32
MAX_LABEL_KEY = 128
MAX_LABEL_VALUE = 256


@dataclass(frozen=True)
class ContainerEvent:
    """One event ready for waitbus.emit(SOURCE_NAME, EVENT_TYPE, ...)."""

    delivery_id: str
    time_ns: int
    action: str
    container_id: str
    fields: dict[str, Any]
    summary: str


def split_action(raw: Mapping[str, Any]) -> tuple[str, str | None]:
    """("health_status", "healthy") from `health_status: healthy`; ("die", None) from `die`.
    Old engines only send `status`, so fall back to it."""
    text = raw.get("Action") or raw.get("status") or ""
    if not isinstance(text, str):
        return "", None
    action, sep, rest = text.partition(":")
    detail = rest.strip() if sep else None
    return action.strip(), detail or None


def event_time_ns(raw: Mapping[str, Any]) -> int | None:
    """The engine's own time of the event in ns (`timeNano`, else `time` in seconds)."""
    nano = raw.get("timeNano")
    if isinstance(nano, int) and not isinstance(nano, bool) and nano > 0:
        return nano
    secs = raw.get("time")
    if isinstance(secs, int) and not isinstance(secs, bool) and secs > 0:
        return secs * 1_000_000_000
    return None


def _attributes(raw: Mapping[str, Any]) -> Mapping[str, Any]:
    actor = raw.get("Actor")
    attrs = actor.get("Attributes") if isinstance(actor, Mapping) else None
    return attrs if isinstance(attrs, Mapping) else {}


def container_id_of(raw: Mapping[str, Any]) -> str | None:
    actor = raw.get("Actor")
    cid = (actor.get("ID") if isinstance(actor, Mapping) else None) or raw.get("id")
    return cid if isinstance(cid, str) and cid else None


def health_of(raw: Mapping[str, Any]) -> str | None:
    """The health status the event itself carries, if any (Docker: in the action;
    newer podman: an attribute). None means the engine did not say."""
    action, detail = split_action(raw)
    if action != "health_status":
        return None
    if detail:
        return detail
    value = _attributes(raw).get("health_status")
    return value if isinstance(value, str) and value else None


def _int_or_none(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _signal_number(value: Any) -> int | None:
    """Docker sends the kill signal as a number in a string ("15"); accept a name too."""
    number = _int_or_none(value)
    if number is not None or not isinstance(value, str):
        return number
    name = value.strip().upper()
    name = name if name.startswith("SIG") else "SIG" + name
    try:
        return int(_signal.Signals[name])
    except KeyError:
        return None


def bounded_labels(attrs: Mapping[str, Any]) -> dict[str, str]:
    labels: dict[str, str] = {}
    for key in sorted(k for k in attrs if isinstance(k, str) and k not in _ENGINE_ATTRIBUTES):
        if len(labels) >= MAX_LABELS:
            break
        value = attrs[key]
        if not isinstance(value, str):
            continue
        labels[key[:MAX_LABEL_KEY]] = value[:MAX_LABEL_VALUE]
    return labels


def translate(raw: Mapping[str, Any], *, health: str | None = None) -> ContainerEvent | None:
    """The event to emit for one engine event, or None when it is not one we report
    (another object type, an ignored action, or no id or time to key it on).

    `health` fills in the status of a `health_status` event that does not carry one
    (podman 4); a status in the event itself wins.
    """
    kind = raw.get("Type", raw.get("type"))
    if kind is not None and kind != "container":
        return None
    action, _ = split_action(raw)
    if action not in ACTIONS:
        return None
    cid = container_id_of(raw)
    time_ns = event_time_ns(raw)
    if cid is None or time_ns is None or len(cid) > 128:  # 128: keeps the delivery id under 256
        return None
    attrs = _attributes(raw)
    name = attrs.get("name")
    container = name if isinstance(name, str) and name else cid[:12]
    image = attrs.get("image") if isinstance(attrs.get("image"), str) else raw.get("from")
    exit_code = _int_or_none(attrs.get("exitCode")) if action == "die" else None
    sig = _signal_number(attrs.get("signal")) if action == "kill" else None
    status = (health_of(raw) or health) if action == "health_status" else None
    fields: dict[str, Any] = {
        "action": action,
        "container_id": cid,
        "container": container,
        "image": image if isinstance(image, str) else None,
        "exit_code": exit_code,
        "signal": sig,
        "health": status,
        "labels": bounded_labels(attrs),
        "time_ns": time_ns,
    }
    detail = (
        f"exit {exit_code}"
        if exit_code is not None
        else f"signal {sig}"
        if sig is not None
        else status
        if status is not None
        else None
    )
    summary = f"docker {action} {container}" + (f" ({detail})" if detail else "")
    # The engine's id + action + time: the same engine event read twice (a replay after a
    # reconnect or restart) maps to the same key, so the log stores it once.
    return ContainerEvent(
        delivery_id=f"{cid}:{action}:{time_ns}",
        time_ns=time_ns,
        action=action,
        container_id=cid,
        fields=fields,
        summary=summary,
    )

"""Docker Engine events source for waitbus: `waitbus source docker`.

Streams container events from a Docker Engine API (Docker, or podman's compatible
service) and emits one `docker_container` event per start, die (with the exit code),
stop, kill, oom and health change. Importing this package is cheap: the docker SDK is
loaded only when the runner starts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from waitbus import SourceSpec, Supervision

from ._engine import engine_sockets, find_engine
from ._translate import ACTIONS, EVENT_TYPE, SOURCE_NAME, ContainerEvent, translate


def run(argv: list[str]) -> int:
    """`waitbus source docker ARGS`: stream events until SIGTERM (0) or SIGINT (130)."""
    from ._cli import main

    return main(argv)


def supervise(_section: Mapping[str, Any]) -> Supervision:
    """The supervised unit runs when a Docker-API engine answers to be watched."""
    engine = find_engine()
    if engine is None:
        return Supervision(None, "no Docker-API socket found (Docker, rootless Docker, podman)")
    return Supervision([], f"engine {engine}")


SOURCE = SourceSpec(
    name=SOURCE_NAME,
    event_types=(EVENT_TYPE,),
    summary="docker {fields.action} {fields.container}",
    entity_key=("fields.container_id",),
    description="Docker Engine container events (start, die with exit code, stop, kill, oom, health_status)",
    runner=run,
    supervise=supervise,
)

__all__ = [
    "ACTIONS",
    "EVENT_TYPE",
    "SOURCE",
    "SOURCE_NAME",
    "ContainerEvent",
    "engine_sockets",
    "find_engine",
    "run",
    "translate",
]

"""The plugin door for sources: entry-point group `waitbus.sources.v1`.

A source declares itself with a SourceSpec: its name and event types, how to write a
one-line summary and which fields identify the entity an event is about, and
optionally a runner (`waitbus source NAME ...`) and HTTP routes that the one
loopback listener mounts. Built-in sources come through the same door as
third-party ones; `register_source` does the same in-process. See docs/plugins.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from waitbus_wire import check_name

SOURCES_GROUP = "waitbus.sources.v1"


@dataclass(frozen=True)
class HttpRequest:
    """What a route handler gets from the listener. `headers` keys are lowercase;
    `body` is the raw bytes (verify signatures over these, not a re-encoding);
    `secrets` is the 0600 secrets file as loaded at listener start; `config` is the
    waitbus configuration as plain data, also as loaded then (`config["prometheus"]`)."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    secrets: Mapping[str, str] = field(default_factory=dict)
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str = "application/json"


@dataclass(frozen=True)
class Route:
    """One HTTP endpoint a source adds to the listener (`POST /webhook`).

    `auth_headers`: the request must carry at least one of these headers (the signature
    or token the handler checks), else the listener answers 401 from the headers alone,
    before reading any of the body."""

    method: str
    path: str
    handler: Callable[[HttpRequest], HttpResponse]
    summary: str = ""
    auth_headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceSpec:
    """What a source declares about itself.

    `summary` is a format string over the event (`"{fields.outcome}: {fields.passed} passed"`);
    `entity_key` the dotted fields naming what an event is about (a CI run, a container),
    for `waitbus top` and `replay --coalesce`; `runner(argv) -> exit code` backs
    `waitbus source NAME ...`; `routes` are mounted by `waitbus listener serve`.
    """

    name: str
    event_types: tuple[str, ...] = ()
    summary: str = ""
    entity_key: tuple[str, ...] = ()
    description: str = ""
    runner: Callable[[list[str]], int] | None = None
    routes: tuple[Route, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("source name", self.name)
        for t in self.event_types:
            check_name("event type", t)
        for route in self.routes:
            if not route.path.startswith("/") or route.method.upper() != route.method:
                raise ValueError(f"source {self.name}: route {route.method} {route.path} must be like POST /path")


class UnknownSource(LookupError):
    """No installed or registered source has that name."""


_registered: dict[str, SourceSpec] = {}


def register_source(spec: SourceSpec | str, **kwargs: Any) -> SourceSpec:
    """Declare a source in-process (the same contract as the entry-point group)."""
    if isinstance(spec, str):
        spec = SourceSpec(name=spec, **kwargs)
    _registered[spec.name] = spec
    return spec


def installed_sources() -> dict[str, SourceSpec]:
    """Every source: entry points of `waitbus.sources.v1`, then in-process ones (which
    win on a name clash). A broken plugin raises with its entry point named."""
    from importlib.metadata import entry_points

    found: dict[str, SourceSpec] = {}
    for ep in entry_points(group=SOURCES_GROUP):
        try:
            obj = ep.load()
            spec = obj() if callable(obj) and not isinstance(obj, SourceSpec) else obj
        except Exception as exc:
            raise ValueError(f"source plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
        if not isinstance(spec, SourceSpec):
            raise ValueError(f"source plugin {ep.name!r} ({ep.value}) is not a waitbus.SourceSpec")
        if spec.name != ep.name:
            raise ValueError(f"source plugin {ep.name!r} ({ep.value}) declares the name {spec.name!r}")
        found[spec.name] = spec
    found.update(_registered)
    return found


def get_source(name: str) -> SourceSpec:
    sources = installed_sources()
    try:
        return sources[name]
    except KeyError:
        known = ", ".join(sorted(sources)) or "none installed"
        raise UnknownSource(f"unknown source {name!r} (installed: {known})") from None


def all_routes(sources: Sequence[SourceSpec]) -> dict[tuple[str, str], tuple[SourceSpec, Route]]:
    """(method, path) -> route, refusing two sources claiming the same endpoint."""
    table: dict[tuple[str, str], tuple[SourceSpec, Route]] = {}
    for spec in sources:
        for route in spec.routes:
            key = (route.method, route.path)
            if key in table:
                raise ValueError(f"{route.method} {route.path} is claimed by both {table[key][0].name} and {spec.name}")
            table[key] = (spec, route)
    return table

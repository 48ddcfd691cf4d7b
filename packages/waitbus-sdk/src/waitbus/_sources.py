"""The plugin door for sources: entry-point group `waitbus.sources.v1`.

A source declares itself with a SourceSpec: its name and event types, how to write a
one-line summary and which fields identify the entity an event is about, and
optionally a runner (`waitbus source NAME ...`), HTTP routes that the one loopback
listener mounts, predicate languages (`evaluators`) and which of its events report a
failure (`is_failure`, the verdict `waitbus wait` exits 1 on). Built-in sources come through the same door as
third-party ones; `register_source` does the same in-process. See docs/plugins.md.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from waitbus_wire import check_name

from ._errors import WaitbusError
from ._plugin_index import SOURCES_GROUP

if TYPE_CHECKING:
    from waitbus_wire import EventFrame

    from ._registry import Evaluator

# `GROUP.COMMAND = "module:function"` adds the verb `waitbus GROUP COMMAND ARGS...`,
# function(argv) -> exit code: a source's periodic jobs and daemons (etag-poll run).
DAEMONS_GROUP = "waitbus.daemons.v1"


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
class Supervision:
    """What a source's supervised unit (`waitbus-source-NAME`) would do with the config
    it has: `argv` for its runner, or None when there is nothing to watch; `detail`
    says what it watches, or why it is off."""

    argv: list[str] | None
    detail: str


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
    `evaluators` maps a spec prefix named `<source>.<language>` (`github.sha`) to a
    compile function, as `register_evaluator` takes; every consumer finds it when a
    spec uses the prefix. `is_failure(frame)` is True for an event of this source that
    reports a failure. `supervise(section)` takes the source's own `[NAME]` table of the
    config file (plain data, `{}` when absent) and says whether its supervised unit has
    anything to watch (`install-systemd`, `install-launchd` and `doctor` ask it).
    """

    name: str
    event_types: tuple[str, ...] = ()
    summary: str = ""
    entity_key: tuple[str, ...] = ()
    description: str = ""
    runner: Callable[[list[str]], int] | None = None
    routes: tuple[Route, ...] = ()
    evaluators: Mapping[str, Evaluator] = field(default_factory=dict)
    is_failure: Callable[[EventFrame], bool] | None = None
    supervise: Callable[[Mapping[str, Any]], Supervision] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name("source name", self.name)
        for t in self.event_types:
            check_name("event type", t)
        for route in self.routes:
            if not route.path.startswith("/") or route.method.upper() != route.method:
                raise ValueError(f"source {self.name}: route {route.method} {route.path} must be like POST /path")
        for prefix in self.evaluators:
            if check_name("evaluator prefix", prefix).partition(".")[0] != self.name:
                raise ValueError(f"source {self.name}: evaluator {prefix!r} must be named {self.name}.<language>")


class UnknownSource(WaitbusError, LookupError):
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

    found = {ep.name: _load(ep) for ep in entry_points(group=SOURCES_GROUP)}
    found.update(_registered)
    return found


def _load(ep: Any) -> SourceSpec:
    try:
        obj = ep.load()
        spec = obj() if callable(obj) and not isinstance(obj, SourceSpec) else obj
    except Exception as exc:
        raise ValueError(f"source plugin {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
    if not isinstance(spec, SourceSpec):
        raise ValueError(f"source plugin {ep.name!r} ({ep.value}) is not a waitbus.SourceSpec")
    if spec.name != ep.name:
        raise ValueError(f"source plugin {ep.name!r} ({ep.value}) declares the name {spec.name!r}")
    return spec


def find_source(name: str) -> SourceSpec | None:
    """The source called `name`, loading only its own entry point; None if there is none."""
    if name in _registered:
        return _registered[name]
    from ._plugin_index import source_entry_point

    ep = source_entry_point(SOURCES_GROUP, name)
    return None if ep is None else _load(ep)


def entity_keys() -> dict[str, tuple[str, ...]]:
    """source -> its SourceSpec.entity_key, for every installed source that declares
    one (what `waitbus top` and the MCP server key entities by). A broken plugin is
    left out here; `waitbus sources` reports it."""
    try:
        sources = installed_sources()
    except ValueError:
        return {name: spec.entity_key for name, spec in _registered.items() if spec.entity_key}
    return {name: spec.entity_key for name, spec in sources.items() if spec.entity_key}


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

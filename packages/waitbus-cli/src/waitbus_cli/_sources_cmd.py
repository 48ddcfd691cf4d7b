"""`waitbus source list|show|NAME ...`: what the plugin door (entry-point group
waitbus.sources.v1) has installed, and running a source's own process."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from . import _exit

if TYPE_CHECKING:
    from waitbus import SourceSpec

_PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
# The built-in sources' distributions, to say what to install when one is missing.
BUILTIN_PACKAGES = {
    "github": "waitbus-sources-github",
    "alertmanager": "waitbus-sources-alertmanager",
    "pytest": "waitbus-sources-pytest",
    "docker": "waitbus-sources-docker",
    "fs": "waitbus-sources-fs",
}


class _SourceGroup(TyperGroup):
    """`waitbus source fs PATH` means `waitbus source run fs PATH`: any first word that
    is not a subcommand names a source (`source run NAME` reaches one called `list`)."""

    # Any: typer vendors click privately, so its Context/Command types have no public name.
    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().resolve_command(ctx, args)


def _sources() -> dict[str, SourceSpec]:
    """Every installed source; a plugin that fails to load is an error naming it (exit 2)."""
    from waitbus import installed_sources

    try:
        return installed_sources()
    except ValueError as exc:
        print(f"waitbus source: {exc}", file=sys.stderr)
        raise typer.Exit(_exit.USAGE) from None


def _origins() -> dict[str, tuple[str, str]]:
    """source name -> (distribution, entry point value)."""
    from importlib.metadata import entry_points

    from waitbus import SOURCES_GROUP

    out: dict[str, tuple[str, str]] = {}
    for ep in entry_points(group=SOURCES_GROUP):
        dist = ep.dist.name if ep.dist is not None else "?"
        out[ep.name] = (dist, ep.value)
    return out


def describe(spec: SourceSpec, origin: tuple[str, str] | None) -> dict[str, Any]:
    dist, value = origin or ("(registered in-process)", "")
    return {
        "name": spec.name,
        "package": dist,
        "entry_point": value,
        "event_types": list(spec.event_types),
        "runner": spec.runner is not None,
        "routes": [f"{r.method} {r.path}" for r in spec.routes],
        "summary": spec.summary,
        "entity_key": list(spec.entity_key),
        "description": spec.description,
    }


def run_list(as_json: bool) -> int:
    sources, origins = _sources(), _origins()
    rows = [describe(sources[name], origins.get(name)) for name in sorted(sources)]
    if as_json:
        print(json.dumps(rows, indent=2))
        return _exit.OK
    if not rows:
        print("no sources installed (entry-point group waitbus.sources.v1); see docs/plugins.md")
        return _exit.OK
    table = [("NAME", "PACKAGE", "EVENT TYPES", "RUNNER", "ROUTES")] + [
        (
            r["name"],
            f"{r['package']} ({r['entry_point']})" if r["entry_point"] else r["package"],
            ",".join(r["event_types"]) or "-",
            "yes" if r["runner"] else "no",
            ", ".join(r["routes"]) or "-",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4])
    return _exit.OK


def run_show(name: str, as_json: bool) -> int:
    spec = _get(name)
    info = describe(spec, _origins().get(name))
    if as_json:
        print(json.dumps(info, indent=2))
        return _exit.OK
    print(f"{spec.name}: {spec.description}" if spec.description else spec.name)
    print(f"  package      {info['package']}" + (f" ({info['entry_point']})" if info["entry_point"] else ""))
    print(f"  event types  {', '.join(spec.event_types) or '-'}")
    print(f"  summary      {spec.summary or '-'}")
    print(f"  entity key   {', '.join(spec.entity_key) or '-'}")
    print(f"  runner       {'yes: waitbus source ' + spec.name + ' ...' if spec.runner else 'no'}")
    if not spec.routes:
        print("  routes       -")
    for i, route in enumerate(spec.routes):
        label = "routes" if i == 0 else ""
        print(f"  {label:<11}  {route.method} {route.path}" + (f"  {route.summary}" if route.summary else ""))
    return _exit.OK


def _get(name: str) -> SourceSpec:
    sources = _sources()
    if name not in sources:
        known = ", ".join(sorted(sources)) or "none installed"
        package = BUILTIN_PACKAGES.get(name)
        absent = [n for n in BUILTIN_PACKAGES if n not in sources]
        hint = (
            f"the {name} source comes with {package}: pip install {package}"
            if package
            else (
                f"built-in ones not installed: {', '.join(absent)} (pip install waitbus-sources-NAME); "
                if absent
                else ""
            )
            + "docs/plugins.md says how to add one"
        )
        print(f"waitbus source: unknown source {name!r} (installed: {known}); {hint}", file=sys.stderr)
        raise typer.Exit(_exit.USAGE)
    return sources[name]


def run_source(name: str, argv: list[str]) -> int:
    spec = _get(name)
    if spec.runner is None:
        routes = ", ".join(f"{r.method} {r.path}" for r in spec.routes) or "none"
        print(
            f"waitbus source {name}: this source has no runner, only routes ({routes}); "
            "they are served by `waitbus listener serve`",
            file=sys.stderr,
        )
        return _exit.USAGE
    try:
        code: object = spec.runner(argv)
    except Exception:
        import traceback

        traceback.print_exc()
        print(f"waitbus source {name}: its runner raised (above); a bug in that plugin", file=sys.stderr)
        return _exit.FAILED
    if code is None:  # a runner that forgot its return value finished normally
        return _exit.OK
    if not isinstance(code, int):
        print(f"waitbus source {name}: its runner returned {code!r}, not an exit code", file=sys.stderr)
        return _exit.FAILED
    return code


def register(app: typer.Typer) -> None:
    source = typer.Typer(
        cls=_SourceGroup,
        help="Installed event sources (plugins of entry-point group waitbus.sources.v1), and running one: "
        "`waitbus source NAME [ARGS]...` calls that source's runner with ARGS "
        "(e.g. `waitbus source fs ./src --recursive`). Exit codes: the runner's own; "
        "2 unknown source, a source without a runner, or a plugin that fails to load.",
        no_args_is_help=True,
        subcommand_metavar="NAME [ARGS]... | list | show NAME",
    )
    app.add_typer(source, name="source")

    @source.command("list")
    def list_cmd(
        as_json: Annotated[bool, typer.Option("--json", help="One JSON array of objects.")] = False,
    ) -> None:
        """Every installed source: name, package (entry point), event types, runner, routes.

        Example: waitbus source list --json
        """
        raise typer.Exit(run_list(as_json))

    @source.command("show")
    def show_cmd(
        name: Annotated[str, typer.Argument(help="Source name (from `waitbus source list`).")],
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object.")] = False,
    ) -> None:
        """One source in full: its spec's summary format, entity key and route summaries too.

        Example: waitbus source show github
        """
        raise typer.Exit(run_show(name, as_json))

    @source.command("run", context_settings=_PASSTHROUGH, add_help_option=False, hidden=True)
    def run_cmd(ctx: typer.Context, name: Annotated[str, typer.Argument()]) -> None:
        """Run NAME's runner with the remaining arguments (`--help` goes to the runner)."""
        raise typer.Exit(run_source(name, list(ctx.args)))

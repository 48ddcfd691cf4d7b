"""`waitbus config validate [PATH]` and `waitbus config schema [--toml]`.

Both are generated from the one pydantic-settings model in _config.py, so the schema,
the example file and the validator can never disagree.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from . import _exit

_SHORT_ENV = {"WAITBUS_PROM_OWNER": "prometheus.owner", "WAITBUS_PROM_REPO": "prometheus.repo"}


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


def _sections() -> dict[str, Any]:
    """Section name -> its JSON Schema (properties, description)."""
    from ._config import Settings

    schema = Settings.model_json_schema()
    defs = schema.get("$defs", {})
    out = {}
    for name, prop in schema["properties"].items():
        ref = prop.get("$ref") or next((p["$ref"] for p in prop.get("allOf", []) if "$ref" in p), "")
        if ref:  # sections are models; `conditions` is a free-form table (see example_toml)
            out[name] = defs[ref.rsplit("/", 1)[-1]]
    return out


def _type_words(prop: dict[str, Any]) -> str:
    variants = prop.get("anyOf", [prop])
    words = " or ".join(v["type"] for v in variants if v.get("type") not in (None, "null")) or "value"
    low = next((v["minimum"] for v in variants if "minimum" in v), None)
    high = next((v["maximum"] for v in variants if "maximum" in v), None)
    if low is not None and high is not None:
        return f"{words} {low}..{high}"
    if low is not None or high is not None:
        return f"{words} {'>=' if low is not None else '<='} {low if low is not None else high}"
    return words


def example_toml() -> str:
    """A commented config file: every key, its meaning and its default (commented out, so
    the file changes nothing until a line is uncommented)."""
    from ._config_file import config_path

    lines = [
        f"# waitbus configuration. This file: {config_path()} (or the file $WAITBUS_CONFIG names).",
        "# Every key is optional; the commented values are the defaults. Uncomment to change one.",
        "# Environment variables override this file: WAITBUS_<SECTION>__<KEY>, for example",
        "# WAITBUS_RETENTION__MAX_ROWS=100000 (and WAITBUS_PROM_OWNER / WAITBUS_PROM_REPO).",
        "# Check it with: waitbus config validate",
    ]
    for section, schema in _sections().items():
        lines.append("")
        if schema.get("description"):
            lines.append(f"# {schema['description']}")
        lines.append(f"[{section}]")
        for key, prop in schema["properties"].items():
            env = f"WAITBUS_{section.upper()}__{key.upper()}"
            lines.append(f"# {prop.get('description', key)} ({_type_words(prop)}; env {env})")
            default = prop.get("default")
            if default is None:
                lines.append(f"# {key} =    (unset by default)")
            else:
                lines.append(f"# {key} = {_toml_value(default)}")
    lines += [
        "",
        "# Named predicates for `waitbus wait --cond NAME` and `waitbus on --cond NAME`:",
        "# each entry maps a name to a key=json spec or a list of them (ANDed). None by default; e.g.",
        "[conditions]",
        "#   green = ['fields.conclusion=\"success\"']",
    ]
    return "\n".join(lines) + "\n"


def _effective_toml(data: dict[str, Any]) -> str:
    lines: list[str] = []
    for section, values in data.items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            lines.append(f"# {key} is unset" if value is None else f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines).rstrip("\n")


def _env_overrides() -> list[str]:
    sections = "|".join(re.escape(s.upper()) for s in _sections())
    pattern = re.compile(rf"^WAITBUS_({sections})__\w+$")
    return sorted(k for k in os.environ if pattern.match(k) or (k in _SHORT_ENV and os.environ[k]))


def describe_error(exc: Exception) -> list[str]:
    """One line per problem, naming the key: pydantic errors, TOML syntax, unreadable file."""
    from pydantic import ValidationError

    if not isinstance(exc, ValidationError):
        return [str(exc)]
    out = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            out.append(f"{key}: unknown key (see `waitbus config schema --toml` for the valid ones)")
        else:
            out.append(f"{key}: {err['msg'].removeprefix('Value error, ')} (got {err.get('input')!r})")
    return out


def validate(path: Path | None, as_json: bool) -> int:
    from ._config import load
    from ._config_file import config_path

    target = path or config_path()
    try:
        settings = load(path)
    except FileNotFoundError as exc:
        print(f"waitbus config validate: {exc}", file=sys.stderr)
        return _exit.USAGE
    except (ValueError, OSError) as exc:  # ValidationError and TOMLDecodeError are ValueErrors
        where = target if target.exists() else "the WAITBUS_* environment"
        for line in describe_error(exc):
            print(f"waitbus config validate: {where}: {line}", file=sys.stderr)
        return _exit.USAGE
    data = settings.model_dump()
    overrides = _env_overrides()
    if as_json:
        print(json.dumps({"path": str(target), "exists": target.exists(), "env": overrides, "config": data}, indent=2))
        return _exit.OK
    print(f"# {target}: valid" if target.exists() else f"# no file at {target}: the defaults apply")
    if overrides:
        print(f"# overridden by the environment: {', '.join(overrides)}")
    print("# effective configuration:")
    print(_effective_toml(data))
    return _exit.OK


def register(app: typer.Typer) -> None:
    config = typer.Typer(
        help="Check the configuration file, or print its schema and a commented example.", no_args_is_help=True
    )
    app.add_typer(config, name="config")

    @config.command("validate")
    def validate_cmd(
        path: Annotated[
            Path | None,
            typer.Argument(help="Config file to check (default: $WAITBUS_CONFIG, else ~/.config/waitbus/config.toml)."),
        ] = None,
        json: Annotated[bool, typer.Option("--json", help="Print {path, exists, env, config} as JSON.")] = False,
    ) -> None:
        """Check a config file (plus WAITBUS_* env overrides) and print the effective configuration.

        A missing default file is valid: the defaults apply. A bad file names each wrong key.

        Example: waitbus config validate ~/.config/waitbus/config.toml

        Exit codes: 0 valid, 2 invalid (key and problem on stderr) or the named file is missing.
        """
        raise typer.Exit(validate(path, json))

    @config.command("schema")
    def schema_cmd(
        toml: Annotated[bool, typer.Option("--toml", help="Print a commented example config.toml instead.")] = False,
    ) -> None:
        """Print the JSON Schema of the configuration, or (--toml) a commented example file.

        \b
        Example: waitbus config schema --toml > ~/.config/waitbus/config.toml

        Exit codes: 0.
        """
        if toml:
            sys.stdout.write(example_toml())
        else:
            from ._config import Settings

            print(json.dumps(Settings.model_json_schema(), indent=2))

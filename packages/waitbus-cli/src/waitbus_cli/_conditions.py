"""Named conditions for `--cond NAME`: from [conditions] in the config file or the
`waitbus.conditions.v1` entry points. A CLI process cannot see another process's
register_condition(), so these two are where named conditions live."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ._config_file import config_path

CONDITIONS_GROUP = "waitbus.conditions.v1"


def load_conditions(wanted: str) -> None:
    """Register `wanted` from the config's [conditions] table (which wins) or the
    `waitbus.conditions.v1` entry points. A CLI process cannot see another process's
    register_condition(), so these two are where named conditions live."""
    from importlib.metadata import entry_points

    from waitbus import register_condition

    path = config_path()
    table = _config_conditions(path)
    plugins = {ep.name: ep for ep in entry_points(group=CONDITIONS_GROUP)}
    if wanted in table:
        specs: Any = table[wanted]
        origin = f"[conditions] in {path}"
    elif wanted in plugins:
        origin = f"entry point {plugins[wanted].value}"
        try:
            specs = plugins[wanted].load()
            if callable(specs):
                specs = specs()
        except Exception as exc:
            raise ValueError(f"condition {wanted!r} from {origin} failed to load: {exc}") from None
    else:
        known = ", ".join(sorted(set(table) | set(plugins))) or "none defined"
        raise ValueError(
            f"unknown condition {wanted!r} (known: {known}); define it in [conditions] of {path}, "
            f"e.g. {wanted} = ['fields.conclusion=\"success\"']"
        )
    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, list | tuple) or not all(isinstance(s, str) for s in specs):
        raise ValueError(f"condition {wanted!r} from {origin} must be a string or a list of key=json strings")
    try:
        register_condition(wanted, list(specs))
    except ValueError as exc:  # PredicateError / EventError
        raise ValueError(f"condition {wanted!r} from {origin}: {exc}") from None


def _config_conditions(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read the config file {path}: {exc}") from None
    table = data.get("conditions", {})
    if not isinstance(table, dict):
        raise ValueError(f"[conditions] in {path} must be a table of name = ['key=json', ...]")
    return table

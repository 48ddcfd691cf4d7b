"""`waitbus fs-watch run`: the fs source over the config's `[fs] paths`, for its unit."""

from __future__ import annotations

import sys
from pathlib import Path

from . import _exit

PROG = "waitbus fs-watch run"


def configured_paths() -> list[str]:
    """`[fs] paths` with `~` expanded (raises what config.load raises)."""
    from ._config import load

    return [str(Path(p).expanduser()) for p in load().fs.paths]


def run() -> int:
    from waitbus import installed_sources

    from ._config_cmd import describe_error
    from ._config_file import config_path

    try:
        paths = configured_paths()
    except (ValueError, OSError) as exc:
        print(f"{PROG}: bad configuration: {'; '.join(describe_error(exc))}", file=sys.stderr)
        return _exit.USAGE
    if not paths:
        print(f"{PROG}: nothing to watch: [fs] paths is empty in {config_path()}", file=sys.stderr)
        return _exit.OK
    try:
        spec = installed_sources().get("fs")
    except ValueError as exc:
        spec, why = None, str(exc)
    else:
        why = "needs waitbus-sources-fs, which is not installed: pip install waitbus-sources-fs"
    if spec is None or spec.runner is None:
        print(f"{PROG}: {why}", file=sys.stderr)
        return _exit.USAGE
    return spec.runner([*paths, "--recursive"])

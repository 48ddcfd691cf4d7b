"""`waitbus fs-watch run`: the fs source's supervised unit. What it watches is the fs
source's own decision (SourceSpec.supervise over the config's `[fs]` table)."""

from __future__ import annotations

import sys

from . import _exit

PROG = "waitbus fs-watch run"


def run() -> int:
    from waitbus import installed_sources

    from ._config import load
    from ._config_cmd import describe_error

    try:
        section = load().model_dump().get("fs") or {}
    except (ValueError, OSError) as exc:
        print(f"{PROG}: bad configuration: {'; '.join(describe_error(exc))}", file=sys.stderr)
        return _exit.USAGE
    try:
        spec = installed_sources().get("fs")
    except ValueError as exc:
        spec, why = None, str(exc)
    else:
        why = "needs waitbus-sources-fs, which is not installed: pip install waitbus-sources-fs"
    if spec is None or spec.runner is None or spec.supervise is None:
        print(f"{PROG}: {why}", file=sys.stderr)
        return _exit.USAGE
    sup = spec.supervise(section)
    if sup.argv is None:
        print(f"{PROG}: nothing to watch: {sup.detail}", file=sys.stderr)
        return _exit.OK
    return spec.runner(sup.argv)

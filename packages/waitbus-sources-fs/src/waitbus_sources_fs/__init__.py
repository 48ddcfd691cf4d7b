"""waitbus-sources-fs: file changes as `fs_change` events on the local waitbus bus.

`waitbus source fs PATH [PATH...] [--recursive] [--debounce 0.2s] [--ignore GLOB] [--once]`
watches each PATH (inotify on Linux, watchdog elsewhere and for --poll) and emits one event
per completed write, move or delete, with editor temp-file churn ignored and bursts
debounced. The package registers itself under the `waitbus.sources.v1` entry-point group as
`SOURCE`. Importing it is cheap: the watching libraries load only when the runner starts.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from waitbus import SourceSpec, Supervision

from ._ignore import DEFAULT_IGNORE


def run(argv: list[str]) -> int:
    """`waitbus source fs ARGS`: watch until SIGTERM (exit 0) or SIGINT (130); see --help."""
    from ._runner import run as _run

    return _run(argv)


def supervise(section: Mapping[str, Any]) -> Supervision:
    """The supervised unit watches the config's `[fs] paths` recursively (`~` expands);
    none listed: nothing is watched until asked."""
    paths = [os.path.expanduser(str(p)) for p in section.get("paths") or ()]
    if not paths:
        return Supervision(None, "[fs] paths is empty (nothing is watched until asked)")
    return Supervision([*paths, "--recursive"], ", ".join(paths))


SOURCE = SourceSpec(
    name="fs",
    event_types=("fs_change", "fs_gap"),
    summary="fs {fields.change} {fields.rel}",
    entity_key=("fields.path",),
    description="File changes under watched paths: one fs_change event per completed write, move or delete "
    "(fields: path, rel, change, is_dir, size, mtime_ns, root; src/dest for moves); on a restart, one fs_gap "
    "event for the time it was not watching (down_from_ns, down_until_ns, down_s, changed paths).",
    runner=run,
    supervise=supervise,
)

__all__ = ["DEFAULT_IGNORE", "SOURCE", "run"]

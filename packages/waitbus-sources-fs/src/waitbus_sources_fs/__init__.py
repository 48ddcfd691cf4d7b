"""waitbus-sources-fs: file changes as `fs_change` events on the local waitbus bus.

`waitbus source fs PATH [PATH...] [--recursive] [--debounce 0.2s] [--ignore GLOB] [--once]`
runs a watchdog observer on each PATH and emits one event per completed write, move or
delete, with editor temp-file churn ignored and bursts debounced. The package registers
itself under the `waitbus.sources.v1` entry-point group as `SOURCE`. Importing it is
cheap: watchdog loads only when the runner starts.
"""

from __future__ import annotations

from waitbus import SourceSpec

from ._ignore import DEFAULT_IGNORE


def run(argv: list[str]) -> int:
    """`waitbus source fs ARGS`: watch until SIGTERM (exit 0) or SIGINT (130); see --help."""
    from ._runner import run as _run

    return _run(argv)


SOURCE = SourceSpec(
    name="fs",
    event_types=("fs_change", "fs_gap"),
    summary="fs {fields.change} {fields.rel}",
    entity_key=("fields.path",),
    description="File changes under watched paths: one fs_change event per completed write, move or delete "
    "(fields: path, rel, change, is_dir, size, mtime_ns, root; src/dest for moves); on a restart, one fs_gap "
    "event for the time it was not watching (down_from_ns, down_until_ns, down_s, changed paths).",
    runner=run,
)

__all__ = ["DEFAULT_IGNORE", "SOURCE", "run"]

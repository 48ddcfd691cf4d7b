"""The source's declaration for the plugin door (`waitbus.sources.v1`)."""

from __future__ import annotations

from waitbus import SourceSpec

from ._fields import FAILURE_EVENT, SESSION_EVENT, SOURCE_NAME


def make_source() -> SourceSpec:
    return SourceSpec(
        name=SOURCE_NAME,
        event_types=(SESSION_EVENT, FAILURE_EVENT),
        summary="pytest {fields.outcome}: {fields.failed} failed, {fields.passed} passed in {fields.duration_s}s"
        " ({fields.rootdir})",
        entity_key=("fields.rootdir",),
        description=(
            "pytest plugin (installed with this package, loaded by every pytest run): one pytest_session event"
            " per session with outcome, counts, duration, rootdir and invocation; pytest_failure events per"
            " failing test with --waitbus-failures. Disable with -p no:waitbus or WAITBUS_PYTEST=0."
        ),
    )

"""What a GitHub event means for a waiter, declared on SOURCE through the plugin door:
which runs and jobs are failures (`is_failure`: `waitbus wait` exits 1 on them) and the
`github.sha:<prefix>` predicate language that waits for one commit's verdict."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ._fields import JOB, RUN

if TYPE_CHECKING:
    from waitbus import EventFrame

SHA_EVALUATOR = "github.sha"
RUN_TYPES = (RUN, JOB)
FAILED_CONCLUSIONS = frozenset({"failure", "cancelled", "timed_out", "startup_failure"})
_SHA_RE = re.compile(r"^[0-9a-fA-F]{7,40}\Z")


def run_info(frame: EventFrame, key: str) -> Any:
    """A run attribute (head_sha, status, conclusion) from flat fields, or nested under
    the event type as in the raw webhook payload."""
    value = frame.fields.get(key)
    if value is None:
        nested = frame.fields.get(frame.event_type)
        if isinstance(nested, dict):
            value = nested.get(key)
    return value


def is_failed_run(frame: EventFrame) -> bool:
    """A workflow run or job that ended in failure, cancellation or timeout."""
    return (
        frame.source == "github"
        and frame.event_type in RUN_TYPES
        and run_info(frame, "conclusion") in FAILED_CONCLUSIONS
    )


def sha_test(prefix: str) -> Callable[[EventFrame], bool]:
    """`github.sha:<prefix>`: an event that decides the commit whose head_sha starts
    with `prefix` (7-40 hex): a completed run that succeeded, or any failed run or job."""
    from waitbus import PredicateError

    if not _SHA_RE.match(prefix):
        raise PredicateError(f"--sha must be 7-40 hex characters (a commit id prefix); got {prefix!r}")
    prefix = prefix.lower()

    def test(frame: EventFrame) -> bool:
        head = run_info(frame, "head_sha")
        if frame.source != "github" or frame.event_type not in RUN_TYPES:
            return False
        if not isinstance(head, str) or not head.lower().startswith(prefix):
            return False
        if run_info(frame, "status") != "completed":
            return False  # queued / in_progress: keep waiting
        conclusion = run_info(frame, "conclusion")
        if conclusion in FAILED_CONCLUSIONS:
            return True  # a failed job already decides the commit
        # A job's success does not: other jobs of the run may still fail. Skipped,
        # neutral, action_required and stale are not verdicts at all.
        return conclusion == "success" and frame.event_type == RUN

    return test

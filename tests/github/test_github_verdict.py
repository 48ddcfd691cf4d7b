"""The GitHub verdict rules as the source declares them through the plugin door: the
`github.sha` language and `is_failure`, found by any consumer via the entry point."""

from __future__ import annotations

import pytest

from waitbus import EventFrame, Matcher, PredicateError, find_source, is_failure


def run(conclusion: str | None, *, status: str = "completed", sha: str = "7f3a1b2c0ffee", kind: str = "workflow_run"):
    fields = {"head_sha": sha, "status": status, "conclusion": conclusion, "source": "github", "event_type": kind}
    return EventFrame(event_id="01" + "0" * 24, event_type=kind, source="github", fields=fields)


def test_the_installed_source_declares_both() -> None:
    spec = find_source("github")
    assert spec is not None and "github.sha" in spec.evaluators and spec.is_failure is not None


@pytest.mark.parametrize(
    ("frame", "decides"),
    [
        (run("success"), True),
        (run("failure", kind="workflow_job"), True),
        (run("success", kind="workflow_job"), False),  # other jobs may still fail
        (run(None, status="in_progress"), False),
        (run("skipped"), False),
        (run("failure", sha="0000000aaa"), False),  # another commit
    ],
)
def test_sha_decides_only_on_a_terminal_verdict_for_that_commit(frame: EventFrame, decides: bool) -> None:
    assert Matcher(["github.sha:7F3A1B2"]).offer(frame) is decides


def test_a_nested_webhook_shape_is_read_too() -> None:
    nested = EventFrame(
        event_id="01" + "0" * 24,
        event_type="workflow_job",
        source="github",
        fields={"workflow_job": {"head_sha": "abcdef1234", "status": "completed", "conclusion": "timed_out"}},
    )
    assert Matcher(["github.sha:abcdef1"]).offer(nested) and is_failure(nested)


def test_failures_and_a_bad_prefix() -> None:
    assert is_failure(run("cancelled")) and not is_failure(run("success")) and not is_failure(run("neutral"))
    with pytest.raises(PredicateError, match="7-40 hex"):
        Matcher(["github.sha:7f3a1"])

"""pr-monitor, in-process: run/job deliveries (GitHub's real examples, re-pointed so the
job belongs to the run of PR #2) go through the webhook handler into the real log;
each tick prints the per-PR transitions since the last one, once."""

from __future__ import annotations

import copy
import json
from types import ModuleType
from typing import Any

import pytest

from waitbus import HttpRequest
from waitbus_sources_github import handle_webhook, pr_monitor_main


class Deliveries:
    """Real example deliveries: the run example re-pointed at the job example's run and repo."""

    def __init__(self, gh: ModuleType) -> None:
        self.gh = gh
        self.job = json.loads(gh.fixture("workflow_job.completed.json"))
        run = json.loads(gh.fixture("workflow_run.completed.json"))
        run["workflow_run"]["id"] = self.job["workflow_job"]["run_id"]
        run["repository"] = copy.deepcopy(self.job["repository"])
        self.run = run

    def post(self, event: str, status: str, conclusion: str | None, **changes: Any) -> None:
        delivery = copy.deepcopy(self.run if event == "workflow_run" else self.job)
        delivery["action"] = status
        delivery[event].update(status=status, conclusion=conclusion, **changes)
        body = self.gh.body_of(delivery)
        req = HttpRequest(
            "POST", "/webhook", self.gh.signed_headers(body, event), body, {"github-webhook-secret": self.gh.SECRET}
        )
        assert handle_webhook(req).status == 200


def tick(capsys: pytest.CaptureFixture[str], *args: str) -> list[str]:
    assert pr_monitor_main(list(args)) == 0
    return capsys.readouterr().out.splitlines()


def test_transitions_are_printed_once(gh: ModuleType, capsys) -> None:
    d = Deliveries(gh)
    assert tick(capsys, "--pr", "2") == []  # no log yet
    d.post("workflow_run", "in_progress", None)
    d.post("workflow_job", "queued", None)
    where = "Octocoders/Hello-World"
    assert tick(capsys, "--pr", "2") == [
        f"PR #2 {where}: test (run) new -> in_progress",
        f"PR #2 {where}: linters (job) new -> queued",
    ]
    assert tick(capsys, "--pr", "2") == []
    d.post("workflow_job", "in_progress", None)
    d.post("workflow_job", "completed", "failure")
    d.post("workflow_run", "completed", "failure")
    assert tick(capsys, "--pr", "9") == []  # another PR: PR #2's news wait for a tick that asks for it
    assert tick(capsys, "--pr", "2", "--pr", "9") == [
        f"PR #2 {where}: test (run) in_progress -> failure",
        f"PR #2 {where}: linters (job) queued -> failure",
    ]
    assert tick(capsys) == []


def test_job_before_its_run_and_late_stale_snapshots(gh: ModuleType, capsys) -> None:
    d = Deliveries(gh)
    d.post("workflow_job", "completed", "success")  # its run has not named its PR yet
    d.post("workflow_job", "in_progress", None)  # an older snapshot stored late: no step back
    assert tick(capsys) == []
    d.post("workflow_run", "completed", "success")
    assert tick(capsys, "--repo", "octocoders/hello-world") == [
        "PR #2 Octocoders/Hello-World: test (run) new -> success",
        "PR #2 Octocoders/Hello-World: linters (job) new -> success",
    ]
    # A re-run (a new job id) moves the job on again.
    d.post("workflow_job", "queued", None, id=d.job["workflow_job"]["id"] + 1)
    assert tick(capsys) == ["PR #2 Octocoders/Hello-World: linters (job) success -> queued"]


def test_repo_filter_and_bad_arguments(gh: ModuleType, capsys) -> None:
    d = Deliveries(gh)
    d.post("workflow_run", "queued", None)
    assert tick(capsys, "--repo", "acme/app") == []
    assert pr_monitor_main(["--pr", "0"]) == 2
    assert pr_monitor_main(["--repo", "nope"]) == 2
    assert pr_monitor_main(["--pr", "x"]) == 2
    assert "--repo must be OWNER/REPO" in capsys.readouterr().err
    assert tick(capsys) == ["PR #2 Octocoders/Hello-World: test (run) new -> queued"]

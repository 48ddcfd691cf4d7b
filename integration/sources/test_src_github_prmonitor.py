"""`waitbus pr-monitor tick --pr N` as a real process over events that came in through
the real listener (GitHub's example deliveries, the run example re-pointed at the job
example's run so the job belongs to PR #2) and through the ETag poller (against the
loopback stand-in for the GitHub API, tests/github/github_api_standin.py)."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests._support import github as gh

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[ModuleType]:
    gh.stage_secret("github-webhook-secret", gh.SECRET)
    proc = gh.Listener(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


def tick(*args: str) -> list[str]:
    result = subprocess.run([*gh.pr_cmd(), *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_webhook_transitions_are_printed_once_per_pr(listener) -> None:
    job = json.loads(gh.fixture("workflow_job.completed.json"))
    run = json.loads(gh.fixture("workflow_run.completed.json"))
    run["workflow_run"]["id"] = job["workflow_job"]["run_id"]
    run["repository"] = copy.deepcopy(job["repository"])

    def post(delivery: dict, event: str, status: str, conclusion: str | None) -> None:
        d = copy.deepcopy(delivery)
        d["action"] = status
        d[event].update(status=status, conclusion=conclusion)
        body = gh.body_of(d)
        assert listener.post("/webhook", body, gh.signed_headers(body, event))[0] == 200

    post(run, "workflow_run", "in_progress", None)
    post(job, "workflow_job", "queued", None)
    where = "Octocoders/Hello-World"
    assert tick("--pr", "2", "--pr", "9") == [
        f"PR #2 {where}: test (run) new -> in_progress",
        f"PR #2 {where}: linters (job) new -> queued",
    ]
    post(job, "workflow_job", "completed", "failure")
    post(run, "workflow_run", "completed", "failure")
    assert tick("--pr", "2", "--pr", "9") == [
        f"PR #2 {where}: test (run) in_progress -> failure",
        f"PR #2 {where}: linters (job) queued -> failure",
    ]
    assert tick("--pr", "2", "--pr", "9") == []


def test_polled_transitions_reach_the_pr_monitor(tmp_path: Path, monkeypatch, waitbus_env) -> None:
    api = gh.StandInAPI(tmp_path / "standin")
    try:
        monkeypatch.setenv("WAITBUS_GITHUB_API", api.url)
        state = Path(waitbus_env["WAITBUS_STATE_DIR"])
        state.mkdir(parents=True, exist_ok=True)
        (state / "watched_repos.txt").write_text("acme/app\n")
        pr7 = [{"number": 7, "id": 1, "url": "https://api.github.com/repos/acme/app/pulls/7"}]
        api.set_repo(
            "acme/app",
            [gh.api_run(61, "in_progress", None, pull_requests=pr7)],
            {61: [gh.api_job(610, 61, "in_progress", None)]},
        )
        poll = [*gh.poll_cmd(), "--no-stall-check"]
        assert subprocess.run(poll, capture_output=True, timeout=90).returncode == 0
        assert tick("--pr", "7") == [
            "PR #7 acme/app: CI (run) new -> in_progress",
            "PR #7 acme/app: build (job) new -> in_progress",
        ]
        api.set_repo(
            "acme/app",
            [gh.api_run(61, "completed", "success", pull_requests=pr7)],
            {61: [gh.api_job(610, 61, "completed", "success")]},
        )
        assert subprocess.run(poll, capture_output=True, timeout=90).returncode == 0
        assert tick("--pr", "7") == [
            "PR #7 acme/app: CI (run) in_progress -> success",
            "PR #7 acme/app: build (job) in_progress -> success",
        ]
    finally:
        api.stop()

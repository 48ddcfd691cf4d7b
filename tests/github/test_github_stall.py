"""Stall detection over the real log: job events stored by the webhook handler (GitHub's
real example deliveries), then the stall check of `waitbus etag-poll run`."""

from __future__ import annotations

import copy
import json
import time
from types import ModuleType

from waitbus import HttpRequest
from waitbus_sources_github import etag_poll_main, handle_webhook


def deliver(gh: ModuleType, delivery: dict, event: str = "workflow_job") -> None:
    body = gh.body_of(delivery)
    req = HttpRequest("POST", "/webhook", gh.signed_headers(body, event), body, {"github-webhook-secret": gh.SECRET})
    assert handle_webhook(req).status == 200


def iso(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))


def job(gh: ModuleType, status: str, **changes: object) -> dict:
    delivery = json.loads(gh.fixture("workflow_job.queued.json"))
    delivery["workflow_job"].update({"status": status, "conclusion": None, **changes})
    return delivery


def stall_pass(*args: str) -> int:
    return etag_poll_main(["--repos-file", "/nonexistent/watched_repos.txt", *args])


def test_one_stalled_event_per_job_per_status(gh: ModuleType, capsys) -> None:
    deliver(gh, job(gh, "queued", created_at=iso(3600)))
    assert stall_pass("--stall-after", "30m") == 0
    assert capsys.readouterr().out.startswith("stalled: CodeQL / update queued for 60m")
    assert stall_pass("--stall-after", "30m") == 0
    assert capsys.readouterr().out == ""
    # The same job now stuck in progress: one more, for that status.
    deliver(gh, job(gh, "in_progress", started_at=iso(2400)))
    assert stall_pass("--stall-after", "30m") == 0
    assert stall_pass("--stall-after", "30m") == 0
    stalled = gh.github_events("stalled")
    job_id = stalled[0]["fields"]["job_id"]
    assert [e["delivery_id"] for e in stalled] == [f"stalled:{job_id}:queued", f"stalled:{job_id}:in_progress"]
    assert stalled[1]["fields"]["stalled_for_s"] >= 2400


def test_not_stalled_below_threshold_or_when_done(gh: ModuleType, capsys) -> None:
    deliver(gh, job(gh, "in_progress", id=1, run_id=99, started_at=iso(600)))  # 10 minutes: not yet
    deliver(gh, job(gh, "queued", id=2, created_at=iso(7200)))
    deliver(gh, job(gh, "completed", id=2, conclusion="success"))  # finished after all
    stale = job(gh, "queued", id=3, created_at=iso(7200))
    deliver(gh, stale)  # its completion never arrived, but its run's did:
    run = json.loads(gh.fixture("workflow_run.completed.json"))
    run["workflow_run"]["id"] = stale["workflow_job"]["run_id"]
    run["repository"] = copy.deepcopy(stale["repository"])
    deliver(gh, run, "workflow_run")
    assert stall_pass("--stall-after", "30m") == 0
    assert gh.github_events("stalled") == []
    assert stall_pass("--stall-after", "5m") == 0  # a lower threshold catches job 1
    assert [e["fields"]["job_id"] for e in gh.github_events("stalled")] == [1]
    assert stall_pass("--stall-after", "5m", "--no-stall-check") == 0
    assert len(gh.github_events("stalled")) == 1
    capsys.readouterr()

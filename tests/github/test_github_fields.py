"""Field extraction, transition keys and summaries, from GitHub's real example payloads
(fixtures copied from @octokit/webhooks-examples; see fixtures/README.md)."""

from __future__ import annotations

import json
from types import ModuleType

import pytest

from waitbus import SourceSpec
from waitbus._sources import get_source
from waitbus_sources_github import (
    JOB,
    RUN,
    SOURCE,
    STALLED,
    job_fields,
    run_fields,
    state_word,
    summarize,
    transition_key,
)


def test_source_spec_is_installed_through_the_entry_point() -> None:
    spec = get_source("github")
    assert spec is SOURCE and isinstance(spec, SourceSpec)
    assert spec.event_types == ("workflow_run", "workflow_job", "stalled")
    assert [(r.method, r.path) for r in spec.routes] == [("POST", "/webhook")]
    assert spec.entity_key == ("fields.job_id", "fields.run_id")


def test_run_fields_match_the_payload(gh: ModuleType) -> None:
    delivery = json.loads(gh.fixture("workflow_run.completed.json"))
    run = delivery["workflow_run"]
    f = run_fields(run, workflow=delivery["workflow"])
    assert f["run_id"] == run["id"] and f["run_attempt"] == run["run_attempt"]
    assert f["workflow"] == "test" and f["workflow_id"] == run["workflow_id"]
    assert f["branch"] == "master" and f["head_sha"] == run["head_sha"]
    assert (f["status"], f["conclusion"], f["event"]) == ("completed", "success", "repository_dispatch")
    assert f["pull_requests"] == [2] and f["html_url"] == run["html_url"]
    # Without the delivery's workflow object the empty run name stays unknown.
    assert run_fields(run)["workflow"] is None


def test_job_fields_match_the_payload(gh: ModuleType) -> None:
    job = json.loads(gh.fixture("workflow_job.queued.json"))["workflow_job"]
    f = job_fields(job)
    assert (f["job_id"], f["run_id"], f["job_name"]) == (job["id"], job["run_id"], job["name"])
    assert (f["status"], f["conclusion"]) == ("queued", None)
    assert f["labels"] == ["ubuntu-latest"] and f["created_at"] == job["created_at"]
    assert "steps" not in f  # the step list stays in the payload, not in the fields


def test_missing_or_odd_values_do_not_raise() -> None:
    f = job_fields({"id": True, "labels": "x", "run_attempt": None, "name": 5})
    assert f["job_id"] is None and f["labels"] == [] and f["run_attempt"] == 1 and f["job_name"] is None
    assert run_fields({})["pull_requests"] == []
    assert run_fields({"pull_requests": [{"number": 3}, {"number": "4"}, "x"]})["pull_requests"] == [3]


def test_transition_keys() -> None:
    run = {"run_id": 5, "status": "completed", "conclusion": "failure", "run_attempt": 2}
    assert transition_key(RUN, run) == "run:5:completed:failure:2"
    assert transition_key(RUN, {"run_id": 5, "status": "queued", "conclusion": None}) == "run:5:queued:null:1"
    job = {"job_id": 9, "status": "in_progress", "conclusion": None, "run_attempt": 3}
    assert transition_key(JOB, job) == "job:9:in_progress:null"  # job ids are per attempt
    assert transition_key(STALLED, job) == "stalled:9:in_progress"
    with pytest.raises(ValueError):
        transition_key("push", run)


def test_webhook_and_api_objects_give_the_same_key(gh: ModuleType) -> None:
    # The REST API's run object is the webhook's workflow_run object: same key either way.
    run = json.loads(gh.fixture("workflow_run.completed.json"))["workflow_run"]
    assert transition_key(RUN, run_fields(run)) == transition_key(RUN, run_fields(dict(run), workflow={"name": "x"}))


def test_summaries_and_state_words() -> None:
    run = {
        "workflow": "CI Build",
        "run_number": 123,
        "status": "completed",
        "conclusion": "failure",
        "head_sha": "7f3a1b2c0ffee",
    }
    assert summarize(RUN, run, "owner", "repo") == "CI Build #123 completed: failure (owner/repo@7f3a1b2)"
    job = {"workflow": "CI", "job_name": "build", "status": "queued", "conclusion": None, "head_sha": "abc1234999"}
    assert summarize(JOB, job, "o", "r") == "CI / build queued (o/r@abc1234)"
    assert (
        summarize(STALLED, {**job, "stalled_for_s": 3700}, "o", "r")
        == "stalled: CI / build queued for 61m (o/r@abc1234)"
    )
    assert state_word(run) == "failure" and state_word(job) == "queued"

"""`waitbus etag-poll run` as a real process, one pass per call as the 45 s timer runs it,
against a loopback HTTP server that STANDS IN for the GitHub REST API (there is no
GitHub here): tests/github/github_api_standin.py implements conditional requests
(ETag / If-None-Match / 304) and the X-RateLimit-Remaining / X-RateLimit-Reset
headers, and can answer 503 on demand. Run and job objects are GitHub's real example
objects (the REST API and the webhook share their shape)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests._support import github as gh

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waitbus_env: dict[str, str]) -> Iterator[ModuleType]:
    standin = gh.StandInAPI(tmp_path / "standin")
    monkeypatch.setenv("WAITBUS_GITHUB_API", standin.url)
    monkeypatch.setenv("GH_TOKEN", "ghp_test_token")
    state = Path(waitbus_env["WAITBUS_STATE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "watched_repos.txt").write_text("acme/app\n")
    try:
        yield standin
    finally:
        standin.stop()


def watch(*repos: str) -> None:
    (Path(os.environ["WAITBUS_STATE_DIR"]) / "watched_repos.txt").write_text("".join(f"{r}\n" for r in repos))


def poll(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*gh.poll_cmd(), *args], capture_output=True, text=True, timeout=90)


def test_unchanged_repo_costs_304s_and_stores_nothing(api) -> None:
    api.set_repo("acme/app", [gh.api_run(11, "in_progress", None)], {11: [gh.api_job(111, 11, "in_progress", None)]})
    first = poll("--no-stall-check")
    assert first.returncode == 0, first.stderr
    assert len(first.stdout.splitlines()) == 2 and len(gh.github_events()) == 2
    n = len(api.requests())
    second = poll("--no-stall-check")
    assert second.returncode == 0, second.stderr
    assert second.stdout == ""
    again = api.requests()[n:]
    assert [r["status"] for r in again] == [304, 304]
    assert all(r["if_none_match"] for r in again)
    assert len(gh.github_events()) == 2


def test_a_changed_run_emits_once(api) -> None:
    api.set_repo("acme/app", [gh.api_run(21, "queued", None)])
    assert poll("--no-stall-check").returncode == 0
    api.set_repo("acme/app", [gh.api_run(21, "completed", "failure", head_sha="7f3a1b2c" * 5)])
    changed = poll("--no-stall-check")
    assert changed.returncode == 0
    assert changed.stdout.splitlines() == ["CI #163 completed: failure (acme/app@7f3a1b2)"]
    assert poll("--no-stall-check").stdout == ""
    assert [e["delivery_id"] for e in gh.github_events()] == ["run:21:queued:null:1", "run:21:completed:failure:1"]


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[ModuleType]:
    gh.stage_secret("github-webhook-secret", gh.SECRET)
    proc = gh.Listener(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


def test_poll_and_webhook_of_the_same_transition_store_it_once(api, listener) -> None:
    # Webhook first: the real run delivery; then the API shows the same run object.
    delivery = json.loads(gh.fixture("workflow_run.completed.json"))
    body = gh.body_of(delivery)
    status, reply = listener.post("/webhook", body, gh.signed_headers(body, "workflow_run"))
    assert status == 200 and reply["inserted"] is True
    watch("octo-org/octo-repo")
    api.set_repo("octo-org/octo-repo", [delivery["workflow_run"]])
    result = poll("--no-stall-check")
    assert result.returncode == 0 and result.stdout == ""
    # Poll first: a job seen by the poller, then GitHub's webhook for that transition.
    job = gh.api_job(4242, delivery["workflow_run"]["id"], "in_progress", None)
    api.set_repo(
        "octo-org/octo-repo",
        [{**delivery["workflow_run"], "status": "in_progress", "conclusion": None}],
        {delivery["workflow_run"]["id"]: [job]},
    )
    assert poll("--no-stall-check").returncode == 0
    job_delivery = json.loads(gh.fixture("workflow_job.completed.json"))
    job_delivery.update(action="in_progress", workflow_job=job)
    body = gh.body_of(job_delivery)
    status, reply = listener.post("/webhook", body, gh.signed_headers(body, "workflow_job", "guid-late"))
    assert status == 200 and reply["inserted"] is False
    keys = [e["delivery_id"] for e in gh.github_events()]
    assert sorted(keys) == sorted(set(keys))
    assert keys.count("job:4242:in_progress:null") == 1
    assert [e["fields"]["origin"] for e in gh.github_events("workflow_job")] == ["poll"]


def test_low_rate_limit_stops_the_pass_and_the_next_ones_until_reset(api) -> None:
    watch("acme/app", "acme/lib")
    reset = int(time.time()) + 1800
    api.set_repo("acme/app", [gh.api_run(31, "completed", "success")])
    api.set_repo("acme/lib", [gh.api_run(32, "completed", "success")])
    api.config["rate_limit"] = {"remaining": 6, "reset": reset}
    api.write()
    result = poll("--no-stall-check", "--min-remaining", "10")
    assert result.returncode == 0, result.stderr
    assert "rate limit low (5 requests left)" in result.stderr
    assert time.strftime("%H:%M:%S", time.gmtime(reset)) in result.stderr
    assert [r["path"] for r in api.requests()] == ["/repos/acme/app/actions/runs"]  # acme/lib never asked
    assert [e["delivery_id"] for e in gh.github_events()] == ["run:31:completed:success:1"]
    later = poll("--no-stall-check", "--min-remaining", "10")
    assert later.returncode == 0 and "skipped" in later.stderr
    assert len(api.requests()) == 1


def test_5xx_is_retried_then_succeeds_and_exhausted_retries_fail_the_repo(api) -> None:
    watch("acme/app", "acme/lib")
    api.set_repo("acme/app", [gh.api_run(41, "completed", "success")])
    api.set_repo("acme/lib", [gh.api_run(42, "completed", "success")])
    api.config["fail"] = {"/repos/acme/app/actions/runs": 2, "/repos/acme/lib/actions/runs": 10}
    api.write()
    result = poll("--no-stall-check", "--retries", "2")
    assert result.returncode == 1  # acme/lib failed for good
    assert "acme/lib" in result.stderr and "HTTP 503" in result.stderr
    statuses = [(r["path"].split("/")[3], r["status"]) for r in api.requests()]
    assert statuses == [("app", 503), ("app", 503), ("app", 200), ("lib", 503), ("lib", 503), ("lib", 503)]
    assert [e["delivery_id"] for e in gh.github_events()] == ["run:41:completed:success:1"]


def _ago(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds))


def test_a_stuck_job_gets_exactly_one_stalled_event(api, listener) -> None:
    jobs = [
        gh.api_job(51, 5, "queued", None, created_at=_ago(7200), started_at=None),
        gh.api_job(52, 5, "in_progress", None, started_at=_ago(300)),  # running 5 min: fine
    ]
    api.set_repo("acme/app", [gh.api_run(5, "in_progress", None)], {5: jobs})
    first = poll("--stall-after", "30m")
    assert first.returncode == 0, first.stderr
    assert [line for line in first.stdout.splitlines() if line.startswith("stalled:")] == [
        "stalled: CodeQL / build queued for 120m (acme/app@3484a3f)"
    ]
    assert poll("--stall-after", "30m").stdout == ""
    [stalled] = gh.github_events("stalled")
    f = stalled["fields"]
    assert stalled["delivery_id"] == "stalled:51:queued"
    assert (f["job_id"], f["run_id"], f["status"], f["stall_after_s"]) == (51, 5, "queued", 1800)
    assert f["stalled_for_s"] >= 7200 and (stalled["owner"], stalled["repo"]) == ("acme", "app")
    # A job known only from a webhook is checked too: the real queued example is years old.
    queued = json.loads(gh.fixture("workflow_job.queued.json"))
    body = gh.body_of(queued)
    assert listener.post("/webhook", body, gh.signed_headers(body, "workflow_job"))[0] == 200
    watch()
    result = poll("--stall-after", "30m")
    assert result.returncode == 0 and result.stdout.startswith("stalled: CodeQL / update queued for")
    assert [e["delivery_id"] for e in gh.github_events("stalled")] == [
        "stalled:51:queued",
        f"stalled:{queued['workflow_job']['id']}:queued",
    ]

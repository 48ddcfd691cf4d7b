"""The GitHub webhook end to end: GitHub's real example deliveries (the npm package
@octokit/webhooks-examples, installed by tools/peers/github.sh), signed with
HMAC-SHA256 as GitHub signs them, POSTed to the real `waitbus listener serve`, stored
in the real log; and a real `waitbus wait --sha` unblocked by them."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests._support import github as gh

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[ModuleType]:
    gh.stage_secret("github-webhook-secret", gh.SECRET)  # before start: the listener reads secrets once
    proc = gh.Listener(tmp_path)
    try:
        yield proc
    finally:
        proc.stop()


def post(listener, event: str, delivery: dict, guid: str = "d-1", **kw) -> tuple[int, dict]:
    body = gh.body_of(delivery)
    return listener.post("/webhook", body, gh.signed_headers(body, event, guid, **kw))


def test_unsigned_or_badly_signed_deliveries_are_401_and_store_nothing(listener) -> None:
    delivery = gh.examples("workflow_run")[1]
    body = gh.body_of(delivery)
    headers = gh.signed_headers(body, "workflow_run")
    unsigned = {k: v for k, v in headers.items() if k != "x-hub-signature-256"}
    assert listener.post("/webhook", body, unsigned)[0] == 401
    assert listener.post("/webhook", body, {**headers, "x-hub-signature-256": "sha256=" + "ab" * 32})[0] == 401
    assert listener.post("/webhook", body, gh.signed_headers(body, "workflow_run", secret="guessed"))[0] == 401
    tampered = body.replace(b'"success"', b'"failure"', 1)
    assert listener.post("/webhook", tampered, headers)[0] == 401
    assert listener.post("/webhook", b"{not json", unsigned)[0] == 401  # garbage unsigned: 401, not 400
    assert gh.github_events() == []


def test_every_real_workflow_example_is_stored_with_its_fields(listener) -> None:
    stored_keys = set()
    for event in ("workflow_run", "workflow_job"):
        for i, delivery in enumerate(gh.examples(event)):
            status, reply = post(listener, event, delivery, f"{event}-{i}")
            assert status == 200, (event, i, reply)
            stored_keys.add(reply["delivery_id"])
            obj = delivery[event]
            # The key names this payload's transition; an example repeating another's
            # transition (same id, status, conclusion) is deduplicated by design.
            ident = obj["id"]
            assert reply["delivery_id"].split(":")[:4] == [
                "run" if event == "workflow_run" else "job",
                str(ident),
                obj["status"],
                obj["conclusion"] or "null",
            ]
            if not reply["inserted"]:
                continue
            [row] = [e for e in gh.github_events(event) if e["event_id"] == reply["event_id"]]
            f = row["fields"]
            assert row["payload"] == gh.body_of(delivery)
            assert (row["owner"], row["repo"]) == (
                delivery["repository"]["owner"]["login"],
                delivery["repository"]["name"],
            )
            assert (f["status"], f["conclusion"], f["head_sha"]) == (obj["status"], obj["conclusion"], obj["head_sha"])
            assert f["branch"] == obj.get("head_branch") and f["html_url"] == obj["html_url"]
            assert f["action"] == delivery["action"] and f["github_delivery"] == f"{event}-{i}"
            if event == "workflow_run":
                assert f["run_id"] == obj["id"] and f["run_attempt"] == obj["run_attempt"]
                assert f["workflow"] == (obj["name"] or delivery["workflow"]["name"])
                assert f["event"] == obj["event"]
                assert f["pull_requests"] == [pr["number"] for pr in obj["pull_requests"]]
            else:
                assert (f["job_id"], f["job_name"], f["run_id"]) == (obj["id"], obj["name"], obj["run_id"])
                assert f["labels"] == obj["labels"] and f["runner_name"] == obj.get("runner_name")
            assert row["summary"].endswith(f"@{obj['head_sha'][:7]})")
    assert len(gh.github_events()) == len(stored_keys) >= 8


def test_redelivery_is_a_noop(listener) -> None:
    delivery = gh.examples("workflow_job")[1]
    first = post(listener, "workflow_job", delivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    again = post(listener, "workflow_job", delivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958")
    assert first[0] == again[0] == 200
    assert first[1]["inserted"] is True and again[1]["inserted"] is False
    assert again[1]["event_id"] == first[1]["event_id"]
    assert len(gh.github_events()) == 1


def test_ping_and_other_event_types_are_acknowledged_and_ignored(listener) -> None:
    for delivery in gh.examples("ping"):
        status, reply = post(listener, "ping", delivery)
        assert status == 200 and reply["pong"] is True
    for event in ("push", "pull_request", "check_run", "issues"):
        status, reply = post(listener, event, gh.examples(event)[0])
        assert status == 202 and reply["ignored"] == event
    body = b'{"workflow_run": '
    assert listener.post("/webhook", body, gh.signed_headers(body, "workflow_run"))[0] == 400
    assert gh.github_events() == []


def test_no_staged_secret_is_503(tmp_path: Path) -> None:
    proc = gh.Listener(tmp_path)
    try:
        delivery = gh.examples("workflow_run")[1]
        status, reply = post(proc, "workflow_run", delivery)
        assert status == 503 and "waitbus install-credentials github-webhook-secret" in reply["error"]
    finally:
        proc.stop()
    assert gh.github_events() == []


def _wait_sha(reap, sha: str) -> subprocess.Popen[bytes]:
    return reap(subprocess.Popen([*gh.waitbus_cmd(), "wait", "--sha", sha, "--timeout", "60s"], stdout=subprocess.PIPE))


@pytest.mark.parametrize("verdict", ["success", "failure"])
def test_wait_sha_is_unblocked_by_a_posted_delivery(listener, hub, reap, await_subscribers, verdict: str) -> None:
    runs, jobs = gh.examples("workflow_run"), gh.examples("workflow_job")
    done = next(r for r in runs if r["workflow_run"]["conclusion"] == "success")
    failed_job = next(j for j in jobs if j["workflow_job"]["conclusion"] == "failure")
    running_job = next(
        j
        for j in jobs
        if j["workflow_job"]["status"] == "in_progress"
        and j["workflow_job"]["head_sha"] == done["workflow_run"]["head_sha"]
    )
    sha = done["workflow_run"]["head_sha"][:7]
    assert failed_job["workflow_job"]["head_sha"].startswith(sha)
    waiter = _wait_sha(reap, sha)
    await_subscribers(1)
    assert post(listener, "workflow_job", running_job)[0] == 200  # in progress: no verdict yet
    time.sleep(0.5)
    assert waiter.poll() is None
    if verdict == "success":
        assert post(listener, "workflow_run", done)[0] == 200
    else:
        assert post(listener, "workflow_job", failed_job)[0] == 200
    out, _ = waiter.communicate(timeout=30)
    assert waiter.returncode == (0 if verdict == "success" else 1)
    assert b"github/workflow_" in out and (b"success" if verdict == "success" else b"failure") in out
    stored = gh.github_events()
    assert [e["fields"]["head_sha"][:7] for e in stored] == [sha, sha]

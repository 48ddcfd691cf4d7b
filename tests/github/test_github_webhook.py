"""POST /webhook, called in-process with a waitbus.HttpRequest as the listener does:
signature check first, then parsing, then one event per transition in the real log."""

from __future__ import annotations

import json
from types import ModuleType
from urllib.parse import quote

import pytest

from waitbus import HttpRequest
from waitbus_sources_github import handle_webhook, sign, verify_signature


def request(body: bytes, headers: dict[str, str], secret: str | None) -> HttpRequest:
    return HttpRequest("POST", "/webhook", headers, body, {"github-webhook-secret": secret} if secret else {})


def reply(resp) -> dict:
    return json.loads(resp.body)


def test_github_documented_signature_vector() -> None:
    # The example from GitHub's "Validating webhook deliveries" page.
    secret, body = "It's a Secret to Everybody", b"Hello, World!"
    expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    assert sign(secret, body) == expected
    assert verify_signature(secret, body, expected)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=" + "0" * 64,
        "sha1=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e1",  # one digit short
        "sha256=\u00e9\u00e9",  # non-ASCII must fail, not raise
    ],
)
def test_bad_signatures_are_refused(header: str | None) -> None:
    assert not verify_signature("It's a Secret to Everybody", b"Hello, World!", header)


def test_signature_depends_on_secret_and_every_body_byte() -> None:
    good = sign("s3cret", b'{"a":1}')
    assert verify_signature("s3cret", b'{"a":1}', good)
    assert not verify_signature("s3cret", b'{"a": 1}', good)  # re-encoded JSON is a different body
    assert not verify_signature("other", b'{"a":1}', good)
    assert not verify_signature("", b'{"a":1}', good)


def test_no_staged_secret_is_503_naming_the_command(gh: ModuleType) -> None:
    body = gh.fixture("workflow_run.completed.json")
    resp = handle_webhook(request(body, gh.signed_headers(body, "workflow_run"), None))
    assert resp.status == 503
    assert "waitbus install-credentials github-webhook-secret" in reply(resp)["error"]
    assert gh.github_events() == []


@pytest.mark.parametrize("how", ["missing", "wrong secret", "tampered body"])
def test_unauthenticated_requests_are_401_and_store_nothing(gh: ModuleType, how: str) -> None:
    body = gh.fixture("workflow_run.completed.json")
    headers = gh.signed_headers(body, "workflow_run")
    if how == "missing":
        del headers["x-hub-signature-256"]
    elif how == "wrong secret":
        headers = gh.signed_headers(body, "workflow_run", secret="not-the-secret")
    else:
        body = body.replace(b'"success"', b'"failure"', 1)
    resp = handle_webhook(request(body, headers, gh.SECRET))
    assert resp.status == 401
    assert gh.github_events() == []


def test_malformed_json_is_401_unsigned_and_400_signed(gh: ModuleType) -> None:
    body = b'{"action": "completed", '
    unsigned = handle_webhook(request(body, {"x-github-event": "workflow_run"}, gh.SECRET))
    assert unsigned.status == 401  # the body is not even parsed before the signature passes
    signed = handle_webhook(request(body, gh.signed_headers(body, "workflow_run"), gh.SECRET))
    assert signed.status == 400
    for bad in (b"[1, 2]", b'{"action": "completed"}'):  # not an object; no workflow_run object
        assert handle_webhook(request(bad, gh.signed_headers(bad, "workflow_run"), gh.SECRET)).status == 400
    assert gh.github_events() == []


def test_ping_is_200_and_other_events_are_202_ignored(gh: ModuleType) -> None:
    ping = json.dumps({"zen": "Design for failure.", "hook_id": 7}).encode()
    resp = handle_webhook(request(ping, gh.signed_headers(ping, "ping"), gh.SECRET))
    assert resp.status == 200 and reply(resp)["hook_id"] == 7
    push = json.dumps({"ref": "refs/heads/main"}).encode()
    resp = handle_webhook(request(push, gh.signed_headers(push, "push"), gh.SECRET))
    assert resp.status == 202 and reply(resp)["ignored"] == "push"
    assert gh.github_events() == []


def test_workflow_run_is_stored_with_fields_from_the_payload(gh: ModuleType) -> None:
    body = gh.fixture("workflow_run.completed.json")
    delivery = json.loads(body)
    run = delivery["workflow_run"]
    resp = handle_webhook(request(body, gh.signed_headers(body, "workflow_run", "guid-1"), gh.SECRET))
    assert resp.status == 200, resp.body
    assert reply(resp)["inserted"] is True
    [event] = gh.github_events("workflow_run")
    f = event["fields"]
    assert (f["run_id"], f["run_attempt"], f["run_number"]) == (run["id"], run["run_attempt"], run["run_number"])
    assert (f["branch"], f["head_sha"], f["event"]) == (run["head_branch"], run["head_sha"], run["event"])
    assert (f["status"], f["conclusion"], f["html_url"]) == ("completed", "success", run["html_url"])
    assert f["workflow"] == delivery["workflow"]["name"] == "test"  # the run's own name is empty here
    assert f["pull_requests"] == [2] and f["action"] == "completed"
    assert f["github_delivery"] == "guid-1" and f["origin"] == "webhook"
    assert (event["owner"], event["repo"]) == ("octo-org", "octo-repo")
    assert event["delivery_id"] == f"run:{run['id']}:completed:success:1"
    assert event["summary"] == "test #163 completed: success (octo-org/octo-repo@3484a3f)"
    assert event["payload"] == body  # the raw bytes, as signed


def test_workflow_job_is_stored_with_job_and_parent_run(gh: ModuleType) -> None:
    body = gh.fixture("workflow_job.completed.json")
    delivery = json.loads(body)
    job = delivery["workflow_job"]
    resp = handle_webhook(request(body, gh.signed_headers(body, "workflow_job"), gh.SECRET))
    assert resp.status == 200
    [event] = gh.github_events("workflow_job")
    f = event["fields"]
    assert (f["job_id"], f["job_name"], f["run_id"]) == (job["id"], "linters", job["run_id"])
    assert (f["status"], f["conclusion"], f["head_sha"]) == ("completed", "failure", job["head_sha"])
    assert f["labels"] == job["labels"] and f["runner_name"] == job["runner_name"]
    assert f["workflow"] == job["workflow_name"] and f["branch"] == job["head_branch"]
    assert event["delivery_id"] == f"job:{job['id']}:completed:failure"
    # repository.owner.login, not full_name (this real example has them disagree).
    repository = delivery["repository"]
    assert (event["owner"], event["repo"]) == (repository["owner"]["login"], repository["name"])


def test_redelivery_and_same_transition_are_noops(gh: ModuleType) -> None:
    body = gh.fixture("workflow_job.completed.json")
    first = reply(handle_webhook(request(body, gh.signed_headers(body, "workflow_job", "guid-A"), gh.SECRET)))
    again = handle_webhook(request(body, gh.signed_headers(body, "workflow_job", "guid-A"), gh.SECRET))
    assert again.status == 200
    assert reply(again)["inserted"] is False and reply(again)["event_id"] == first["event_id"]
    # A different delivery of the same transition (what a GitHub "redeliver" sends) too.
    other = reply(handle_webhook(request(body, gh.signed_headers(body, "workflow_job", "guid-B"), gh.SECRET)))
    assert other["inserted"] is False
    queued = gh.fixture("workflow_job.queued.json")  # the same job, another transition: stored
    assert reply(handle_webhook(request(queued, gh.signed_headers(queued, "workflow_job"), gh.SECRET)))["inserted"]
    assert len(gh.github_events("workflow_job")) == 2


def test_form_encoded_delivery_is_accepted(gh: ModuleType) -> None:
    payload = gh.fixture("workflow_run.completed.json").decode()
    body = ("payload=" + quote(payload, safe="")).encode()
    headers = {**gh.signed_headers(body, "workflow_run"), "content-type": "application/x-www-form-urlencoded"}
    resp = handle_webhook(request(body, headers, gh.SECRET))
    assert resp.status == 200 and reply(resp)["inserted"] is True
    assert gh.github_events("workflow_run")[0]["fields"]["run_id"] == 289782451

"""`waitbus://repo/{owner}/{repo}` (issue 14 item 5) through the mcp SDK's own client
against the real `waitbus-mcp` and a real hub: resources/read gives the repo's latest CI
state, resources/subscribe gets notifications/resources/updated on each change of it."""

from __future__ import annotations

import json
from typing import Any

import anyio
import pytest
from mcp import types

from tests._support import run_cli

pytestmark = pytest.mark.anyio
URI = "waitbus://repo/acme/shop"


def gh(kind: str, repo: str = "shop", **fields: Any) -> str:
    """A GitHub event as the github source stores it (flat fields), from another process."""
    args = [f"{k}={json.dumps(v)}" for k, v in fields.items()]
    out = run_cli("emit", "github", kind, *args, "--owner", "acme", "--repo", repo)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def run_event(run_id: int, sha: str, status: str, conclusion: str | None, workflow: str = "CI") -> dict[str, Any]:
    return {"run_id": run_id, "workflow": workflow, "head_sha": sha, "status": status, "conclusion": conclusion}


def state_of(text: str) -> dict[str, Any]:
    """The JSON between the untrusted-data fence lines."""
    lines = text.splitlines()
    begin = next(i for i, line in enumerate(lines) if "WAITBUS-UNTRUSTED-DATA BEGIN" in line)
    end = next(i for i, line in enumerate(lines) if "WAITBUS-UNTRUSTED-DATA END" in line)
    found: dict[str, Any] = json.loads("\n".join(lines[begin + 1 : end]))
    return found


async def read(run: Any) -> dict[str, Any]:
    contents = (await run.session.read_resource(URI)).contents[0]
    assert isinstance(contents, types.TextResourceContents)
    return state_of(contents.text)


@pytest.mark.timeout(120)
async def test_read_gives_runs_jobs_and_the_verdict_per_sha(hub, open_mcp):
    await anyio.to_thread.run_sync(lambda: gh("workflow_run", **run_event(1, "aaaa111", "completed", "success")))
    await anyio.to_thread.run_sync(lambda: gh("workflow_run", **run_event(2, "bbbb222", "in_progress", None)))
    await anyio.to_thread.run_sync(lambda: gh("workflow_run", **run_event(3, "cccc333", "in_progress", None)))
    await anyio.to_thread.run_sync(
        lambda: gh("workflow_job", job_id=31, run_id=3, name="test", head_sha="cccc333", status="completed",
                   conclusion="failure")
    )  # fmt: skip
    await anyio.to_thread.run_sync(
        lambda: gh("workflow_run", repo="other", **run_event(9, "aaaa111", "completed", "failure"))
    )
    async with open_mcp("--no-channel") as run:
        templates = (await run.session.list_resource_templates()).resource_templates
        assert "waitbus://repo/{owner}/{repo}" in [t.uri_template for t in templates]
        state = await read(run)
    assert (state["owner"], state["repo"]) == ("acme", "shop")
    verdicts = {s["sha"]: s["verdict"] for s in state["shas"]}
    assert verdicts == {"aaaa111": "success", "bbbb222": "pending", "cccc333": "failure"}
    assert next(s for s in state["shas"] if s["sha"] == "cccc333")["failed"] == ["test"]
    assert sorted(r["run_id"] for r in state["runs"]) == [1, 2, 3]  # run 9 is another repo's
    assert [(j["job_id"], j["conclusion"]) for j in state["jobs"]] == [(31, "failure")]


@pytest.mark.timeout(120)
async def test_subscribe_gets_updated_on_each_change_of_that_repo_only(hub, open_mcp):
    async with open_mcp("--no-channel") as run:
        await run.session.send_request(
            types.SubscribeRequest(params=types.SubscribeRequestParams(uri=URI)), types.EmptyResult
        )
        assert URI in (await run.ok("status"))["server"]["subscribed_resources"]
        await anyio.to_thread.run_sync(
            lambda: gh("workflow_run", repo="other", **run_event(5, "eeee555", "queued", None))
        )
        await anyio.to_thread.run_sync(lambda: gh("workflow_run", **run_event(7, "dddd444", "in_progress", None)))
        note = await run.wait_note(lambda n: isinstance(n, types.ResourceUpdatedNotification))
        assert str(note.params.uri) == URI
        assert (await read(run))["shas"][0] == {
            "sha": "dddd444", "runs": 1, "completed": 0, "succeeded": 0, "failed": [], "verdict": "pending"
        }  # fmt: skip
        await anyio.to_thread.run_sync(lambda: gh("workflow_run", **run_event(7, "dddd444", "completed", "success")))
        for _ in range(100):
            notes = [n for n in run.notes if isinstance(n, types.ResourceUpdatedNotification)]
            if len(notes) == 2:
                break
            await anyio.sleep(0.1)
        assert [str(n.params.uri) for n in notes] == [URI, URI]  # none for acme/other
        assert (await read(run))["shas"][0]["verdict"] == "success"
        await run.session.send_request(
            types.UnsubscribeRequest(params=types.UnsubscribeRequestParams(uri=URI)), types.EmptyResult
        )
        await anyio.to_thread.run_sync(lambda: gh("workflow_run", **run_event(8, "ffff666", "queued", None)))
        await anyio.sleep(1.0)
        assert len([n for n in run.notes if isinstance(n, types.ResourceUpdatedNotification)]) == 2

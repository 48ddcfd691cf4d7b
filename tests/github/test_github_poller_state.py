"""The ETag poller, in-process, against the loopback GitHub API stand-in
(github_api_standin.py: a real HTTP server process implementing ETag / If-None-Match /
304 and the X-RateLimit headers; there is no GitHub here). These cover its state:
what is persisted, that it is used, and that it survives damage."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

from waitbus_sources_github import etag_poll_main


@pytest.fixture
def setup(standin, monkeypatch: pytest.MonkeyPatch, waitbus_env: dict[str, str]) -> Path:
    monkeypatch.setenv("WAITBUS_GITHUB_API", standin.url)
    monkeypatch.delenv("GH_TOKEN", raising=False)
    state = Path(waitbus_env["WAITBUS_STATE_DIR"])
    state.mkdir(parents=True, exist_ok=True)
    (state / "watched_repos.txt").write_text("# watched\nacme/app   # the app\n\n")
    return state


def poll(*args: str) -> int:
    return etag_poll_main(["--no-stall-check", *args])


def test_etags_are_persisted_atomically_and_sent_back(gh: ModuleType, standin, setup: Path) -> None:
    gh.stage_secret("github-token", "ghp_from_secrets_file")
    standin.set_repo("acme/app", [gh.api_run(101, "in_progress", None)], {101: [gh.api_job(501, 101, "queued", None)]})
    assert poll() == 0
    first = standin.requests()
    assert [r["path"] for r in first] == ["/repos/acme/app/actions/runs", "/repos/acme/app/actions/runs/101/jobs"]
    assert all(r["if_none_match"] is None and r["status"] == 200 for r in first)
    assert all(r["authorization"] == "Bearer ghp_from_secrets_file" for r in first)
    assert first[0]["query"] == "per_page=20"
    state = json.loads((setup / "etag-poll.json").read_text())
    assert set(state["etags"]) == {
        "/repos/acme/app/actions/runs?per_page=20",
        "/repos/acme/app/actions/runs/101/jobs?per_page=100",
    }
    assert state["repos"]["acme/app"]["runs"]["101"]["key"] == "run:101:in_progress:null:1"
    assert [p.name for p in setup.iterdir() if p.name.endswith(".tmp")] == []  # temp + os.replace left nothing
    assert len(gh.github_events()) == 2

    assert poll() == 0  # nothing changed: conditional GETs, 304s, nothing stored
    second = standin.requests()[len(first) :]
    assert [r["status"] for r in second] == [304, 304]
    for r in second:  # each carries the ETag persisted for its own URL
        assert r["if_none_match"] == state["etags"][f"{r['path']}?{r['query']}"]
        assert r["if_none_match"].startswith('W/"')
    assert len(gh.github_events()) == 2


def test_transitions_emit_once_each_and_final_jobs_are_fetched(gh: ModuleType, standin, setup: Path) -> None:
    standin.set_repo("acme/app", [gh.api_run(7, "queued", None)], {7: [gh.api_job(70, 7, "queued", None)]})
    assert poll() == 0
    standin.set_repo("acme/app", [gh.api_run(7, "in_progress", None)], {7: [gh.api_job(70, 7, "in_progress", None)]})
    assert poll() == 0
    # The run completes; its job's completion is only seen by fetching the jobs once more.
    standin.set_repo(
        "acme/app", [gh.api_run(7, "completed", "failure")], {7: [gh.api_job(70, 7, "completed", "failure")]}
    )
    assert poll() == 0
    assert poll() == 0  # a completed run's jobs are not polled again
    keys = [e["delivery_id"] for e in gh.github_events()]
    assert keys == [
        "run:7:queued:null:1",
        "job:70:queued:null",
        "run:7:in_progress:null:1",
        "job:70:in_progress:null",
        "run:7:completed:failure:1",
        "job:70:completed:failure",
    ]
    assert all(e["fields"]["origin"] == "poll" for e in gh.github_events())
    assert [r["path"] for r in standin.requests()][-1] == "/repos/acme/app/actions/runs"


def test_active_run_that_left_the_page_is_followed_by_id(gh: ModuleType, standin, setup: Path) -> None:
    standin.set_repo("acme/app", [gh.api_run(1, "in_progress", None)])
    assert poll("--per-page", "1") == 0
    standin.set_repo("acme/app", [gh.api_run(2, "queued", None), gh.api_run(1, "completed", "success")])
    assert poll("--per-page", "1") == 0
    assert "/repos/acme/app/actions/runs/1" in [r["path"] for r in standin.requests()]
    assert "run:1:completed:success:1" in [e["delivery_id"] for e in gh.github_events()]


def test_gh_token_env_is_used_without_a_secret(gh: ModuleType, standin, setup: Path, monkeypatch) -> None:
    monkeypatch.setenv("GH_TOKEN", "ghp_env")
    standin.set_repo("acme/app", [])
    assert poll() == 0
    assert standin.requests()[0]["authorization"] == "Bearer ghp_env"
    assert standin.requests()[0]["user_agent"].startswith("waitbus-etag-poll/")


def test_damaged_state_is_reported_and_started_afresh(gh: ModuleType, standin, setup: Path, capsys) -> None:
    standin.set_repo("acme/app", [gh.api_run(3, "completed", "success")])
    (setup / "etag-poll.json").write_text('{"version": 1, "etags": {')
    assert poll() == 0
    assert "unreadable state" in capsys.readouterr().err
    assert json.loads((setup / "etag-poll.json").read_text())["version"] == 1
    assert [e["delivery_id"] for e in gh.github_events()] == ["run:3:completed:success:1"]


@pytest.mark.parametrize(
    ("args", "repos_text", "needle"),
    [
        (["--per-page", "0"], "acme/app\n", "--per-page"),
        (["--stall-after", "soon"], "acme/app\n", "bad duration"),
        (["--api", "ftp://x"], "acme/app\n", "http(s)"),
        (["--bogus"], "acme/app\n", "unrecognized"),
        ([], "acme/app\nnot a repo\n", "watched_repos.txt:2"),
    ],
)
def test_bad_config_exits_2(setup: Path, capsys, args: list[str], repos_text: str, needle: str) -> None:
    (setup / "watched_repos.txt").write_text(repos_text)
    assert etag_poll_main(args) == 2
    assert needle in capsys.readouterr().err


def test_loose_secrets_file_exits_2(gh: ModuleType, setup: Path, capsys) -> None:
    gh.stage_secret("github-token", "x")
    (setup / "secrets.json").chmod(0o644)
    assert poll() == 2
    assert "must be 0600" in capsys.readouterr().err


def test_help_exits_0(capsys) -> None:
    assert etag_poll_main(["--help"]) == 0
    assert "waitbus etag-poll run" in capsys.readouterr().out


def test_no_watched_repos_is_fine(standin, setup: Path) -> None:
    (setup / "watched_repos.txt").unlink()
    assert poll() == 0
    assert standin.requests() == []


def test_a_deleted_active_run_is_forgotten(gh: ModuleType, standin, setup: Path) -> None:
    standin.set_repo("acme/app", [gh.api_run(8, "in_progress", None)])
    assert poll("--per-page", "1") == 0
    standin.set_repo("acme/app", [gh.api_run(9, "completed", "success")])  # run 8 is gone: 404 by id
    assert poll("--per-page", "1") == 0
    assert ("/repos/acme/app/actions/runs/8", 404) in [(r["path"], r["status"]) for r in standin.requests()]
    state = json.loads((setup / "etag-poll.json").read_text())
    assert list(state["repos"]["acme/app"]["runs"]) == ["9"]

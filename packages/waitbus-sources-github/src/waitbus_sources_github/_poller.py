"""`waitbus etag-poll run`: one poll pass over watched_repos.txt (the 45 s timer runs it).

Per repo: a conditional GET of the newest runs; the run (`/runs/{id}`) of any run still
active that fell off that page; and the jobs of every active run, plus one last time
of a run that just completed. Every GET carries `If-None-Match` with the ETag stored
from the last 200, so an unchanged repo costs 304s, which GitHub does not count
against the rate limit. A run or job whose status/conclusion differs from what the
last pass saw becomes an event whose delivery id is its transition key, the same key
the webhook uses, so the two paths never store one transition twice.

State (ETags, last seen transition keys, a rate-limit pause) lives in
<state dir>/etag-poll.json, replaced atomically after each pass. Exit codes: 0 ok
(including a pass cut short by the rate limit), 1 some repos failed, 2 bad config
or arguments.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from waitbus import parse_duration
from waitbus_store import ConfigError

from ._api import DEFAULT_API, ApiError, GitHubClient, RateLimited
from ._fields import ACTIVE_STATUSES, JOB, RUN, job_fields, repo_of, run_fields, summarize, transition_key
from ._files import REPO_RE, exclusive, load_state, save_state, state_dir

STATE_VERSION = 1
STATE_FILE = "etag-poll.json"
REPOS_FILE = "watched_repos.txt"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="waitbus etag-poll run",
        description="One ETag poll pass over the repos in watched_repos.txt: new workflow run/job "
        "transitions become github events; jobs stuck queued/in_progress get one `stalled` event.",
        epilog="exit codes: 0 ok (also when the rate limit cut the pass short), 1 some repos failed, "
        "2 bad config or arguments. Token: secret github-token (waitbus install-credentials github-token) "
        "or $GH_TOKEN. API base: $WAITBUS_GITHUB_API (default https://api.github.com).",
    )
    add = p.add_argument
    add("--repos-file", type=Path, help="owner/repo per line, # comments (default <state dir>/watched_repos.txt)")
    add("--per-page", type=int, default=20, help="runs fetched per repo per pass, 1-100 (default 20)")
    add("--stall-after", default="30m", help="a job queued/in_progress this long is stalled (default 30m)")
    add("--stall-window", default="24h", help="how far back the stall check reads job events (default 24h)")
    add("--no-stall-check", action="store_true", help="skip stall detection")
    add("--min-remaining", type=int, default=20, help="stop the pass below this many API requests left (default 20)")
    add("--retries", type=int, default=3, help="retries of a GET on 5xx / connection errors (default 3)")
    add("--timeout", type=float, default=10.0, help="seconds per HTTP request (default 10)")
    add("--api", help="GitHub API base URL (default $WAITBUS_GITHUB_API or https://api.github.com)")
    return p


def read_repos(path: Path) -> list[tuple[str, str]]:
    """(owner, repo) pairs from watched_repos.txt; ConfigError names a bad line."""
    if not path.exists():
        return []
    found: list[tuple[str, str]] = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        m = REPO_RE.match(text)
        if not m:
            raise ConfigError(f"{path}:{number}: {text!r} is not owner/repo")
        if (m.group(1), m.group(2)) not in found:
            found.append((m.group(1), m.group(2)))
    return found


class Pass:
    """One pass: polls each repo, updates `state` in place, emits new transitions."""

    def __init__(self, client: GitHubClient, state: dict[str, Any], per_page: int) -> None:
        self.client = client
        self.state = state
        self.per_page = per_page
        self.etags: dict[str, str] = state.setdefault("etags", {})
        self.repos: dict[str, Any] = state.setdefault("repos", {})
        self.touched: set[str] = set()  # URLs requested this pass (their ETags are kept)
        self.emitted: list[str] = []
        self.not_modified = 0

    def _get(self, path: str) -> tuple[Any, str | None]:
        """(JSON body, ETag) of path; (None, None) if unchanged since the last pass (304).
        The ETag is committed by the caller only once it has processed the body, so a
        pass that fails half-way fetches the same data again next time."""
        self.touched.add(path)
        resp = self.client.get(path, self.etags.get(path))
        if resp.status == 304:
            self.not_modified += 1
            return None, None
        return resp.body, resp.etag

    def _commit_etag(self, path: str, etag: str | None) -> None:
        if etag:
            self.etags[path] = etag
        else:
            self.etags.pop(path, None)

    def poll_repo(self, owner: str, name: str) -> None:
        full = f"{owner}/{name}"
        runs: dict[str, Any] = self.repos.setdefault(full, {"runs": {}})["runs"]
        base = f"/repos/{owner}/{name}/actions"
        listing = f"{base}/runs?per_page={self.per_page}"
        body, etag = self._get(listing)
        if body is not None:
            listed = body.get("workflow_runs") if isinstance(body, dict) else None
            if not isinstance(listed, list):
                raise ApiError(f"GET {listing}: no workflow_runs list in the response")
            ids = set()
            for run in reversed(listed):  # oldest first, so events land in the order they happened
                if isinstance(run, dict) and isinstance(run.get("id"), int):
                    ids.add(str(run["id"]))
                    self._see_run(runs, run, owner, name)
            for run_id, rec in runs.items():
                rec["listed"] = run_id in ids
            self._commit_etag(listing, etag)
        # An active run pushed off the first page by newer ones: follow it by id.
        for run_id, rec in list(runs.items()):
            if rec["listed"] or rec["status"] not in ACTIVE_STATUSES:
                continue
            path = f"{base}/runs/{run_id}"
            try:
                run, etag = self._get(path)
            except ApiError as exc:
                if exc.status == 404:
                    del runs[run_id]  # deleted run
                    continue
                raise
            if isinstance(run, dict):
                self._see_run(runs, run, owner, name)
                self._commit_etag(path, etag)
        for run_id, rec in runs.items():
            if rec["status"] in ACTIVE_STATUSES or rec.get("final_jobs"):
                path = f"{base}/runs/{run_id}/jobs?per_page=100"
                jobs_body, etag = self._get(path)
                if isinstance(jobs_body, dict) and isinstance(jobs_body.get("jobs"), list):
                    for job in jobs_body["jobs"]:
                        if isinstance(job, dict) and isinstance(job.get("id"), int):
                            self._see_job(rec, job, *rec.get("where", (owner, name)))
                    self._commit_etag(path, etag)
                rec.pop("final_jobs", None)
        # Forget finished runs that left the page: nothing about them will change.
        for run_id in [k for k, rec in runs.items() if not rec["listed"] and rec["status"] not in ACTIVE_STATUSES]:
            del runs[run_id]

    def _see_run(self, runs: dict[str, Any], run: dict[str, Any], owner: str, name: str) -> None:
        fields = run_fields(run)
        key = transition_key(RUN, fields)
        rec = runs.get(str(run["id"]))
        if rec is not None and rec["key"] == key:
            return
        o, r = repo_of(run)
        self._emit(RUN, fields, o or owner, r or name, {"workflow_run": run})
        was_active = rec is not None and rec["status"] in ACTIVE_STATUSES
        if rec is None:
            rec = runs[str(run["id"])] = {"jobs": {}, "listed": True}
        # GitHub's spelling of owner/repo (the watched line may differ in case), for its jobs too.
        rec.update(key=key, status=fields["status"], where=[o or owner, r or name])
        if was_active and fields["status"] not in ACTIVE_STATUSES:
            rec["final_jobs"] = True  # fetch its jobs once more for their final conclusions

    def _see_job(self, rec: dict[str, Any], job: dict[str, Any], owner: str, name: str) -> None:
        fields = job_fields(job)
        key = transition_key(JOB, fields)
        if rec["jobs"].get(str(job["id"])) == key:
            return
        self._emit(JOB, fields, owner, name, {"workflow_job": job})
        rec["jobs"][str(job["id"])] = key

    def _emit(self, event: str, fields: dict[str, Any], owner: str, repo: str, payload: Any) -> None:
        import waitbus

        fields.update(action=None, origin="poll", github_delivery=None)
        summary = summarize(event, fields, owner, repo)
        result = waitbus.emit(
            "github",
            event,
            fields=fields,
            payload=payload,
            delivery_id=transition_key(event, fields),
            owner=owner,
            repo=repo,
            summary=summary,
        )
        if result.inserted:  # not inserted: the webhook (or an earlier pass) stored it already
            self.emitted.append(summary)

    def finish(self, complete: bool) -> None:
        """Drop the ETags of URLs no longer polled (only after a full pass)."""
        if complete:
            for path in [p for p in self.etags if p not in self.touched]:
                del self.etags[path]


def etag_poll_main(argv: list[str]) -> int:
    """`waitbus etag-poll run ARGS`: one pass; the exit code (0 ok, 1 repo failures, 2 config)."""
    try:
        ns = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): argparse already printed
        return exc.code if isinstance(exc.code, int) else 2
    try:
        return _run(ns)
    except ConfigError as exc:
        print(f"waitbus etag-poll run: {exc}", file=sys.stderr)
        return 2


def _run(ns: argparse.Namespace) -> int:
    from waitbus_store import StoreError

    if not 1 <= ns.per_page <= 100:
        raise ConfigError(f"--per-page must be 1-100; got {ns.per_page}")
    if ns.retries < 0 or ns.min_remaining < 0 or ns.timeout <= 0:
        raise ConfigError("--retries and --min-remaining must be >= 0 and --timeout > 0")
    try:
        stall_after, stall_window = parse_duration(ns.stall_after), parse_duration(ns.stall_window)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    base = ns.api or os.environ.get("WAITBUS_GITHUB_API") or DEFAULT_API
    if not base.startswith(("https://", "http://")):
        raise ConfigError(f"the API base must be an http(s) URL; got {base!r}")
    home = state_dir()
    repos = read_repos(ns.repos_file or home / REPOS_FILE)
    from waitbus_store import read_secrets, resolve_paths

    token = read_secrets(resolve_paths().secrets).get("github-token") or os.environ.get("GH_TOKEN") or None
    with exclusive(home / "etag-poll.lock") as mine:
        if not mine:
            print("waitbus etag-poll run: another pass is running; skipped", file=sys.stderr)
            return 0
        path = home / STATE_FILE
        state = load_state(path, STATE_VERSION)
        state["version"] = STATE_VERSION
        client = GitHubClient(base, token, timeout=ns.timeout, attempts=ns.retries + 1, min_remaining=ns.min_remaining)
        one = Pass(client, state, ns.per_page)
        failed: list[str] = []
        paused = float(state.get("rate_limited_until") or 0)
        complete = True
        if repos and not token:
            print(
                "waitbus etag-poll run: no github-token secret and no $GH_TOKEN: polling unauthenticated "
                "(60 requests/hour)",
                file=sys.stderr,
            )
        if repos and paused > time.time():
            print(f"waitbus etag-poll run: {RateLimited(None, paused)}; skipped", file=sys.stderr)
            repos, complete = [], False
        for owner, name in repos:
            try:
                one.poll_repo(owner, name)
            except RateLimited as exc:
                print(f"waitbus etag-poll run: {exc}; skipping the rest of this pass", file=sys.stderr)
                state["rate_limited_until"] = exc.reset_at or time.time() + 60
                complete = False
                break
            except (ApiError, StoreError) as exc:
                print(f"waitbus etag-poll run: {owner}/{name}: {exc}", file=sys.stderr)
                failed.append(f"{owner}/{name}")
        else:
            if paused <= time.time():
                state.pop("rate_limited_until", None)
        one.finish(complete and not failed)
        state["last_pass"] = {
            "at": time.time(),
            "requests": client.requests,
            "not_modified": one.not_modified,
            "emitted": len(one.emitted),
            "failed": failed,
        }
        save_state(path, state)
        for line in one.emitted:
            print(line)
        if not ns.no_stall_check:
            from ._stall import emit_stalls

            try:
                for line in emit_stalls(stall_after, stall_window):
                    print(line)
            except StoreError as exc:
                print(f"waitbus etag-poll run: stall check: {exc}", file=sys.stderr)
                return 1
    return 1 if failed else 0

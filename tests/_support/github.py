"""Helpers shared by tests/github (fast) and integration/sources/test_src_github_* (slow).

Nothing here fakes waitbus: events go to the real log of the test's own
WAITBUS_STATE_DIR, listeners and stand-ins are real processes on real sockets.
"""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests._support._net import free_port

HERE = Path(__file__).resolve().parents[1] / "github"  # its fixtures and API stand-in live beside its tests
FIXTURES = HERE / "fixtures"
STANDIN = HERE / "github_api_standin.py"
# tools/peers/github.sh installs here: /opt as root, else the checkout's git-ignored .peers/
_PEER_DIRS = [Path("/opt/waitbus-peers/github"), HERE.parents[1] / ".peers" / "github"]
PEER_DIR = Path(
    os.environ.get("WAITBUS_GITHUB_PEER_DIR")
    or next((d for d in _PEER_DIRS if (d / "node_modules").is_dir()), _PEER_DIRS[0])
)
EXAMPLES = PEER_DIR / "node_modules" / "@octokit" / "webhooks-examples" / "api.github.com" / "index.json"
# Loopback only: never through an http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
SECRET = "test-webhook-secret-\u00e9-not-real"  # non-ASCII on purpose: signed as UTF-8 like GitHub


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def examples(event: str) -> list[dict[str, Any]]:
    """Every example delivery of `event` from the installed @octokit/webhooks-examples."""
    if not EXAMPLES.exists():
        pytest.skip(f"@octokit/webhooks-examples is not installed at {EXAMPLES}; run: bash tools/peers/github.sh")
    for entry in json.loads(EXAMPLES.read_text()):
        if entry["name"] == event:
            return list(entry["examples"])
    raise AssertionError(f"no {event} examples in {EXAMPLES}")


def body_of(delivery: dict[str, Any]) -> bytes:
    """A delivery body as GitHub sends it: compact JSON (the exact bytes are what is signed)."""
    return json.dumps(delivery, separators=(",", ":")).encode()


def signed_headers(body: bytes, event: str, delivery: str = "d-1", secret: str = SECRET) -> dict[str, str]:
    from waitbus_sources_github import sign

    return {
        "content-type": "application/json",
        "x-github-event": event,
        "x-github-delivery": delivery,
        "x-hub-signature-256": sign(secret, body),
        "user-agent": "GitHub-Hookshot/test",
    }


def stage_secret(name: str, value: str) -> None:
    """Write the 0600 secrets file the way `waitbus install-credentials` does."""
    from waitbus_store import resolve_paths

    path = resolve_paths().secrets
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = value
    path.write_text(json.dumps(data))
    path.chmod(0o600)


def github_events(event_type: str | None = None) -> list[dict[str, Any]]:
    """Stored github events (oldest first) with decoded fields and the raw payload."""
    from waitbus_store import Store, resolve_paths

    db = resolve_paths().db
    if not db.exists():
        return []
    out = []
    with Store(db) as store:
        for row in store.read_after(0, 100_000):
            if row.source == "github" and (event_type is None or row.event_type == event_type):
                found = store.get(row.event_id)
                out.append({**row._asdict(), "fields": json.loads(row.fields), "payload": found[1] if found else None})
    return out


def waitbus_cmd() -> list[str]:
    exe = Path(sys.executable).with_name("waitbus")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "waitbus_cli"]


def poll_cmd() -> list[str]:
    """`waitbus etag-poll run` (the CLI door to etag_poll_main)."""
    return [*waitbus_cmd(), "etag-poll", "run"]


def pr_cmd() -> list[str]:
    """`waitbus pr-monitor tick` (the CLI door to pr_monitor_main)."""
    return [*waitbus_cmd(), "pr-monitor", "tick"]


class StandInAPI:
    """The loopback GitHub API stand-in (github_api_standin.py) in its own process."""

    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / "standin.json"
        self.log_path = workdir / "standin-requests.jsonl"
        self.config: dict[str, Any] = {"repos": {}, "rate_limit": {"remaining": 5000}, "fail": {}}
        self.write()
        self.proc = subprocess.Popen(
            [sys.executable, str(STANDIN), str(self.config_path), str(self.log_path)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("PORT "):
            self.stop()
            raise AssertionError(f"the API stand-in did not start: {line!r}")
        self.url = f"http://127.0.0.1:{int(line.split()[1])}"

    def write(self) -> None:
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.config))
        os.replace(tmp, self.config_path)

    def set_repo(
        self, full: str, runs: list[dict[str, Any]], jobs: dict[int, list[dict[str, Any]]] | None = None
    ) -> None:
        self.config["repos"][full] = {"runs": runs, "jobs": {str(k): v for k, v in (jobs or {}).items()}}
        self.write()

    def requests(self) -> list[dict[str, Any]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line) for line in self.log_path.read_text().splitlines()]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def api_run(
    run_id: int, status: str, conclusion: str | None, *, repo: str = "acme/app", attempt: int = 1, **extra: Any
) -> dict[str, Any]:
    """A REST API run object: the real `workflow_run` example (the API and the webhook share
    the shape) re-pointed at `repo` with the given id and state."""
    run = copy.deepcopy(json.loads(fixture("workflow_run.completed.json"))["workflow_run"])
    owner, name = repo.split("/")
    run.update(id=run_id, status=status, conclusion=conclusion, run_attempt=attempt, name="CI", **extra)
    run["repository"]["name"], run["repository"]["full_name"] = name, repo
    run["repository"]["owner"]["login"] = owner
    return run


def api_job(job_id: int, run_id: int, status: str, conclusion: str | None, **extra: Any) -> dict[str, Any]:
    """A REST API job object from the real `workflow_job` example, with the given ids and state."""
    job = copy.deepcopy(json.loads(fixture("workflow_job.completed.json"))["workflow_job"])
    job.update(id=job_id, run_id=run_id, status=status, conclusion=conclusion, name="build", **extra)
    return job


class Listener:
    """`waitbus listener serve --port N`: the real loopback listener, in its own process."""

    def __init__(self, workdir: Path) -> None:
        self.log_path = workdir / "listener.log"
        for attempt in range(3):  # a free port can be taken between probe and bind: try another
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            log = self.log_path.open("ab")
            self.proc = subprocess.Popen(
                [*waitbus_cmd(), "listener", "serve", "--port", str(self.port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
            try:
                self._await_health()
                return
            except BaseException:
                self.stop()
                if attempt == 2 or "in use" not in self.log_path.read_text():
                    raise

    def _await_health(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"listener exited {self.proc.returncode}: {self.log_path.read_text()}")
            try:
                with _OPENER.open(self.url + "/healthz", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"listener did not answer /healthz: {self.log_path.read_text()}")
            time.sleep(0.05)

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request = urllib.request.Request(self.url + path, data=body, headers=headers, method="POST")
        try:
            with _OPENER.open(request, timeout=20) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
            exc.close()
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {"raw": raw.decode(errors="replace")}
        return status, parsed if isinstance(parsed, dict) else {"body": parsed}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

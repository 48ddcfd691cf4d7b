"""`waitbus pr-monitor tick`: roll run and job events into per-PR state and print each
transition since the last tick, e.g. `PR #7 acme/app: build (job) queued -> failure`.

A run names its pull requests (`fields.pull_requests`, or the stored payload's
`workflow_run.pull_requests`); a job names only its run, so jobs are tied to PRs
through their run, and a job seen before its run waits in `pending` until the run
arrives. Per PR, an entity is a workflow (`run`) or a job name (`job`); its state is
the conclusion once completed, else the status. An older run/job, or an older
snapshot of the same one stored late (a poll after the webhook), never moves a state
back. Each entity remembers the state last printed, so a tick prints, once, where
each watched PR's entities went since the tick that last printed them; a tick for
other PRs leaves them to be printed later. State: <state dir>/pr-monitor.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING, Any

from waitbus_store import ConfigError

from ._fields import JOB, RUN, pr_numbers, state_word
from ._files import REPO_RE, exclusive, load_state, save_state, state_dir
from ._log import github_rows, open_log, rank

if TYPE_CHECKING:
    from waitbus import EventFrame
    from waitbus_store import Reader

STATE_VERSION = 1
STATE_FILE = "pr-monitor.json"
MAX_RUNS = 5000  # run -> PRs links kept (oldest dropped first)
MAX_PENDING = 1000  # runs whose jobs wait for the run's PR list
FORGET_AFTER_S = 30 * 86400  # a PR with no event for this long is dropped


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="waitbus pr-monitor tick",
        description="Roll CI run/job events from the log into per-PR state and print each transition "
        "since the last tick, one line each: PR #7 acme/app: build (job) queued -> failure.",
        epilog="exit codes: 0 ok (also when nothing changed), 2 bad arguments or unreadable log/state.",
    )
    p.add_argument(
        "--pr", type=int, action="append", metavar="N", help="a PR number to report (repeatable; default all)"
    )
    p.add_argument("--repo", metavar="OWNER/REPO", help="only PRs of this repository")
    return p


class Monitor:
    def __init__(self, state: dict[str, Any], log: Reader) -> None:
        self.state = state
        self.log = log
        self.runs: dict[str, list[int]] = state.setdefault("runs", {})
        self.pending: dict[str, dict[str, Any]] = state.setdefault("pending", {})
        self.prs: dict[str, Any] = state.setdefault("prs", {})

    def roll(self) -> None:
        """Apply every run/job event stored since the last tick."""
        cursor = int(self.state.get("cursor") or 0)
        for seq, frame in github_rows(self.log, (RUN, JOB), after_seq=cursor):
            self._apply(frame)
            cursor = seq
        self.state["cursor"] = cursor
        self._trim()

    def _apply(self, row: EventFrame) -> None:
        f = row.fields
        repo = f"{row.owner or '?'}/{row.repo or '?'}"
        run_key = f"{repo}#{f.get('run_id')}"
        if row.event_type == RUN:
            numbers = f.get("pull_requests") if "pull_requests" in f else self._payload_prs(row.event_id)
            if isinstance(numbers, list) and numbers:
                self.runs.pop(run_key, None)  # re-insert: most recent last, for trimming
                self.runs[run_key] = [n for n in numbers if isinstance(n, int)]
            ident = [f.get("run_id") or 0, f.get("run_attempt") or 1]
            entity = {"name": f.get("workflow") or "workflow", "kind": "run", "id": ident, "rank": rank(f)}
        else:
            entity = {
                "name": f.get("job_name") or "job",
                "kind": "job",
                "id": [f.get("job_id") or 0, 0],
                "rank": rank(f),
            }
        entity["state"] = state_word(f)
        key = f"{entity['kind']}:{entity['name']}"
        prs = self.runs.get(run_key)
        if prs is None:
            if row.event_type == JOB:  # its run has not named its PRs yet
                _merge(self.pending.setdefault(run_key, {}), key, entity)
            return
        for number in prs:
            self._merge_pr(f"{repo}#{number}", key, entity)
        for job_key, job in self.pending.pop(run_key, {}).items():
            for number in prs:
                self._merge_pr(f"{repo}#{number}", job_key, dict(job))

    def _merge_pr(self, pr_key: str, key: str, entity: dict[str, Any]) -> None:
        pr = self.prs.setdefault(pr_key, {"entities": {}})
        pr["updated"] = time.time()
        _merge(pr["entities"], key, entity)

    def _payload_prs(self, event_id: str) -> list[int]:
        found = self.log.get(event_id)
        try:
            body = json.loads(found[1]) if found and found[1] is not None else None
        except ValueError:
            return []
        run = body.get("workflow_run") if isinstance(body, dict) else None
        return pr_numbers(run) if isinstance(run, dict) else []

    def _trim(self) -> None:
        for table, limit in ((self.runs, MAX_RUNS), (self.pending, MAX_PENDING)):
            for key in list(table)[: max(0, len(table) - limit)]:
                del table[key]
        old = time.time() - FORGET_AFTER_S
        for key in [k for k, pr in self.prs.items() if pr.get("updated", 0) < old]:
            del self.prs[key]

    def report(self, numbers: list[int] | None, repo: str | None) -> list[str]:
        """Lines for the PRs asked for, each entity's state since it was last printed."""
        lines: list[str] = []
        for pr_key in sorted(self.prs, key=_pr_order):
            where, _, number = pr_key.rpartition("#")
            if (numbers and int(number) not in numbers) or (repo and where.lower() != repo.lower()):
                continue
            entities = self.prs[pr_key]["entities"].values()
            for entity in sorted(entities, key=lambda e: (e["kind"] != "run", e["name"])):  # workflows, then jobs
                if entity["state"] != entity.get("printed"):
                    before = entity.get("printed") or "new"
                    lines.append(
                        f"PR #{number} {where}: {entity['name']} ({entity['kind']}) {before} -> {entity['state']}"
                    )
                    entity["printed"] = entity["state"]
        return lines


def _merge(entities: dict[str, Any], key: str, entity: dict[str, Any]) -> None:
    """Take `entity` as the new state of `key` unless it is older than what is there."""
    current = entities.get(key)
    if current is not None:
        if entity["id"] < current["id"]:
            return  # an older run or job of the same name
        if entity["id"] == current["id"] and entity["rank"] < current["rank"]:
            return  # an older snapshot of the same one
        entity["printed"] = current.get("printed")
    entities[key] = entity


def _pr_order(pr_key: str) -> tuple[str, int]:
    where, _, number = pr_key.rpartition("#")
    return where, int(number) if number.isdigit() else 0


def pr_monitor_main(argv: list[str]) -> int:
    """`waitbus pr-monitor tick ARGS`: print new per-PR transitions; 0 ok, 2 bad arguments."""
    from waitbus_store import StoreError

    try:
        ns = _parser().parse_args(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 2
    try:
        if ns.pr and any(n <= 0 for n in ns.pr):
            raise ConfigError(f"--pr takes positive PR numbers; got {ns.pr}")
        if ns.repo is not None and not REPO_RE.match(ns.repo):
            raise ConfigError(f"--repo must be OWNER/REPO; got {ns.repo!r}")
        home = state_dir()
        with exclusive(home / "pr-monitor.lock") as mine:
            if not mine:
                print("waitbus pr-monitor tick: another tick is running; skipped", file=sys.stderr)
                return 0
            log = open_log()
            if log is None:
                return 0  # no log yet: nothing has happened
            path = home / STATE_FILE
            state = load_state(path, STATE_VERSION)
            state["version"] = STATE_VERSION
            try:
                monitor = Monitor(state, log)
                monitor.roll()
                lines = monitor.report(ns.pr, ns.repo)
            finally:
                log.close()
            save_state(path, state)
    except (ConfigError, StoreError) as exc:
        print(f"waitbus pr-monitor tick: {exc}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    return 0

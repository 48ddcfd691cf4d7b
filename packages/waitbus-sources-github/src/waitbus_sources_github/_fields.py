"""From a GitHub workflow run or job object to the flat fields, summary and dedup key
of a waitbus event.

The webhook's `workflow_run` / `workflow_job` objects and the REST API's run and job
objects have the same shape, so the webhook handler and the ETag poller share this
code, and a transition seen by both produces the same delivery id (its transition
key) and is stored once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

RUN = "workflow_run"
JOB = "workflow_job"
STALLED = "stalled"
ACTIVE_STATUSES = frozenset({"requested", "queued", "waiting", "pending", "in_progress"})
STALL_STATUSES = ("queued", "in_progress")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def repo_of(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """(owner, repo) from a delivery's `repository` (or an API object's own)."""
    repository = body.get("repository")
    if not isinstance(repository, Mapping):
        return None, None
    owner = repository.get("owner")
    login = _str(owner.get("login")) if isinstance(owner, Mapping) else None
    return login, _str(repository.get("name"))


def pr_numbers(run: Mapping[str, Any]) -> list[int]:
    """The numbers of the pull requests a run belongs to (GitHub lists only same-repo PRs)."""
    found = run.get("pull_requests")
    if not isinstance(found, list):
        return []
    return [n for pr in found if isinstance(pr, Mapping) and (n := _int(pr.get("number"))) is not None]


def run_fields(run: Mapping[str, Any], *, workflow: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Flat fields of a workflow run. `workflow` is the delivery's top-level `workflow`
    object, whose name stands in when the run's own `name` is empty."""
    name = _str(run.get("name")) or (_str(workflow.get("name")) if isinstance(workflow, Mapping) else None)
    return {
        "run_id": _int(run.get("id")),
        "run_attempt": _int(run.get("run_attempt")) or 1,
        "run_number": _int(run.get("run_number")),
        "workflow": name,
        "workflow_id": _int(run.get("workflow_id")),
        "branch": _str(run.get("head_branch")),
        "head_sha": _str(run.get("head_sha")),
        "status": _str(run.get("status")),
        "conclusion": _str(run.get("conclusion")),
        "event": _str(run.get("event")),
        "html_url": _str(run.get("html_url")),
        "display_title": _str(run.get("display_title")),
        "pull_requests": pr_numbers(run),
        "created_at": _str(run.get("created_at")),
        "updated_at": _str(run.get("updated_at")),
    }


def job_fields(job: Mapping[str, Any]) -> dict[str, Any]:
    """Flat fields of a workflow job; `run_id` is its parent run."""
    labels = job.get("labels")
    return {
        "job_id": _int(job.get("id")),
        "job_name": _str(job.get("name")),
        "run_id": _int(job.get("run_id")),
        "run_attempt": _int(job.get("run_attempt")) or 1,
        "workflow": _str(job.get("workflow_name")),
        "branch": _str(job.get("head_branch")),
        "head_sha": _str(job.get("head_sha")),
        "status": _str(job.get("status")),
        "conclusion": _str(job.get("conclusion")),
        "event": None,  # jobs do not say what triggered their run; the run event does
        "html_url": _str(job.get("html_url")),
        "labels": [x for x in labels if isinstance(x, str)] if isinstance(labels, list) else [],
        "runner_name": _str(job.get("runner_name")),
        "runner_group_name": _str(job.get("runner_group_name")),
        "created_at": _str(job.get("created_at")),
        "started_at": _str(job.get("started_at")),
        "completed_at": _str(job.get("completed_at")),
    }


def transition_key(event_type: str, fields: Mapping[str, Any]) -> str:
    """The delivery id of one state transition, the same from the webhook and the poller.

    run: `run:<run_id>:<status>:<conclusion>:<run_attempt>` (a re-run keeps its run id, so
    the attempt is part of it); job: `job:<job_id>:<status>:<conclusion>` (a re-run gets
    new job ids, and some job deliveries omit `run_attempt`, so it is left out);
    stalled: `stalled:<job_id>:<status>` (one per job per stuck status). A missing
    conclusion is written `null`.
    """
    conclusion = fields.get("conclusion") or "null"
    status = fields.get("status") or "null"
    if event_type == RUN:
        return f"run:{fields.get('run_id')}:{status}:{conclusion}:{fields.get('run_attempt') or 1}"
    if event_type == JOB:
        return f"job:{fields.get('job_id')}:{status}:{conclusion}"
    if event_type == STALLED:
        return f"stalled:{fields.get('job_id')}:{status}"
    raise ValueError(f"no transition key for event type {event_type!r}")


def state_word(fields: Mapping[str, Any]) -> str:
    """One word for where a run or job is: its conclusion once completed, else its status."""
    if fields.get("status") == "completed" and fields.get("conclusion"):
        return str(fields["conclusion"])
    return str(fields.get("status") or "unknown")


def summarize(event_type: str, fields: Mapping[str, Any], owner: str | None, repo: str | None) -> str:
    """One line, e.g. `CI Build #123 completed: failure (acme/app@7f3a1b2)`."""
    sha = str(fields.get("head_sha") or "")[:7]
    where = f"{owner or '?'}/{repo or '?'}" + (f"@{sha}" if sha else "")
    status = fields.get("status") or "unknown"
    verdict = f"{status}: {fields['conclusion']}" if fields.get("conclusion") else str(status)
    if event_type == RUN:
        number = f" #{fields['run_number']}" if fields.get("run_number") is not None else ""
        return f"{fields.get('workflow') or 'workflow'}{number} {verdict} ({where})"
    job = (
        f"{fields.get('workflow')} / {fields.get('job_name')}"
        if fields.get("workflow")
        else f"job {fields.get('job_name')}"
    )
    if event_type == STALLED:
        minutes = int(fields.get("stalled_for_s") or 0) // 60
        return f"stalled: {job} {status} for {minutes}m ({where})"
    return f"{job} {verdict} ({where})"

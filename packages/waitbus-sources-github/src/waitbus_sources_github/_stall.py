"""Stall detection: one `stalled` event per job stuck in queued / in_progress.

It reads the job events in the log, whichever path stored them (webhook or poll), so
it works for repos that are only delivered by webhook too. A job is stuck when its
newest known status is queued (for longer than the threshold since its `created_at`)
or in_progress (since its `started_at`); with no timestamp, since the first event
that reported that status. A job whose run has completed (same or later attempt) is
not stuck, even if its own completion never arrived. The delivery id `stalled:<job_id>:<status>` makes it one
event per job per stuck status, however many passes see it.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

from ._fields import JOB, RUN, STALL_STATUSES, STALLED, summarize, transition_key
from ._log import github_rows, open_log, parse_time, rank

# Fields of the job event that describe its delivery, not the job: not copied over.
_NOT_COPIED = ("source", "event_type", "origin", "github_delivery", "action", "payload_dropped")


class Stalled(NamedTuple):
    fields: dict[str, Any]
    owner: str | None
    repo: str | None


class _Latest(NamedTuple):
    row_fields: dict[str, Any]
    owner: str | None
    repo: str | None
    status_since: float  # when the log first heard of the current status


def find_stalled(stall_after_s: float, window_s: float, now: float | None = None) -> list[Stalled]:
    """Jobs whose newest event in the last `window_s` is queued/in_progress for at least
    `stall_after_s`."""
    now = time.time() if now is None else now
    log = open_log()
    if log is None:
        return []
    latest: dict[int, _Latest] = {}
    done: dict[tuple[str | None, str | None, Any], int] = {}  # (owner, repo, run_id) -> newest completed attempt
    try:
        for _, row in github_rows(log, (JOB, RUN), since_ns=int((now - window_s) * 1e9)):
            if row.event_type == RUN:
                if row.fields.get("status") == "completed":
                    key = (row.owner, row.repo, row.fields.get("run_id"))
                    done[key] = max(done.get(key, 0), int(row.fields.get("run_attempt") or 1))
                continue
            job_id = row.fields.get("job_id")
            if not isinstance(job_id, int):
                continue
            prev = latest.get(job_id)
            if prev is not None and rank(row.fields) < rank(prev.row_fields):
                continue  # an older snapshot stored after a newer one (a slow poll pass)
            same = prev is not None and prev.row_fields.get("status") == row.fields.get("status")
            since = prev.status_since if same and prev is not None else row.received_at / 1e9
            latest[job_id] = _Latest(row.fields, row.owner, row.repo, since)
    finally:
        log.close()
    found: list[Stalled] = []
    for job in latest.values():
        status = job.row_fields.get("status")
        if status not in STALL_STATUSES:
            continue
        finished = done.get((job.owner, job.repo, job.row_fields.get("run_id")), 0)
        if finished >= int(job.row_fields.get("run_attempt") or 1):
            continue  # its run completed, so the job did too (its own completion was missed)
        stamp = job.row_fields.get("created_at" if status == "queued" else "started_at")
        since = parse_time(stamp) or job.status_since
        age = now - since
        if age < stall_after_s:
            continue
        fields = {k: v for k, v in job.row_fields.items() if k not in _NOT_COPIED}
        fields.update(stalled_for_s=int(age), stall_after_s=int(stall_after_s))
        found.append(Stalled(fields, job.owner, job.repo))
    return found


def emit_stalls(stall_after_s: float, window_s: float, now: float | None = None) -> list[str]:
    """Emit a `stalled` event for each stuck job not yet reported; their summaries."""
    import waitbus

    new: list[str] = []
    for stall in find_stalled(stall_after_s, window_s, now):
        summary = summarize(STALLED, stall.fields, stall.owner, stall.repo)
        result = waitbus.emit(
            "github",
            STALLED,
            fields=stall.fields,
            delivery_id=transition_key(STALLED, stall.fields),
            owner=stall.owner,
            repo=stall.repo,
            summary=summary,
        )
        if result.inserted:
            new.append(summary)
    return new

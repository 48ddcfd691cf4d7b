"""Reading the event log through the store's read-only Reader (these functions block:
call them in a worker thread).

The server never writes the log except through `waitbus.emit`/`respond`. Every read opens
its own reader, so a slow query cannot hold a write lock and a concurrent reader in
another thread cannot trip over a shared connection.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from waitbus_wire import iso_utc

if TYPE_CHECKING:
    from waitbus_store import Reader
    from waitbus_wire import EventFrame

SCAN_CAP = 20_000  # rows one call may examine before it returns with a cursor to continue from
ZERO_CURSOR = "0" * 26  # sorts before every event id: "from the start of the log"


def db_path() -> str:
    from waitbus_store import resolve_paths

    return str(resolve_paths().db)


@contextmanager
def reader() -> Iterator[Reader | None]:
    """The store's read-only reader, or None when there is no log (nothing emitted yet).
    A damaged or foreign file raises StoreError, which the server answers as a tool error."""
    from waitbus_store import open_reader

    found = open_reader(db_path())
    try:
        yield found
    finally:
        if found is not None:
            found.close()


def event_dict(frame: EventFrame) -> dict[str, Any]:
    """An event as the tools return it: the one event shape, plus its resource URI."""
    from waitbus_wire import event_dict as shape

    return {**shape(frame), "resource": f"waitbus://event/{frame.event_id}"}


# -- status ---------------------------------------------------------------------------------


def summary() -> dict[str, Any]:
    with reader() as log:
        if log is None:
            return {"path": db_path(), "exists": False, "event_count": 0, "last_event": None}
        count = log.count()
        last = log.last()
        return {
            "path": db_path(),
            "exists": True,
            "event_count": count,
            "last_event": event_dict(last) if last else None,
        }


def head_id() -> str | None:
    with reader() as log:
        newest = log.head() if log is not None else None
        return newest[1] if newest else None


def sources(limit: int = 200) -> list[tuple[str, int]]:
    with reader() as log:
        return log.by_source()[:limit] if log is not None else []


# -- queries --------------------------------------------------------------------------------


def recent(
    *,
    source: str | None,
    event_type: str | None,
    since: str | float | None,
    limit: int,
    test: Callable[[EventFrame], bool] | None,
) -> tuple[list[EventFrame], bool]:
    """The newest `limit` matching events, newest first, and whether the scan was cut
    short at SCAN_CAP rows (so older matches may exist)."""
    after_id = since if isinstance(since, str) else None
    since_ns = time.time_ns() - int(since * 1e9) if since is not None and not isinstance(since, str) else None
    out: list[EventFrame] = []
    with reader() as log:
        if log is None:
            return [], False
        rows = log.recent(source=source, event_type=event_type, after_id=after_id, since_ns=since_ns)
        for scanned, (_, frame) in enumerate(rows):
            if scanned >= SCAN_CAP:
                return out, True
            if test is None or test(frame):
                out.append(frame)
                if len(out) >= limit:
                    break
    return out, False


@dataclass
class Scan:
    events: list[EventFrame]
    last_seen: str | None  # the newest event id examined (every row up to it was looked at)
    at_head: bool  # the scan reached the newest stored event


def scan_after(cursor: str, test: Callable[[EventFrame], bool], limit: int) -> Scan:
    """Matching events stored after `cursor` (an event id; it need not exist), in commit order.

    Commit order equals event-id order, so a row committed after this read has an id
    greater than every row it examined: `last_seen` is a safe cursor to resume from.
    """
    out: list[EventFrame] = []
    last: str | None = None
    with reader() as log:
        if log is None:
            return Scan([], None, True)
        for scanned, (_, frame) in enumerate(log.scan(log.seq_at_or_before(cursor), batch=500)):
            if scanned >= SCAN_CAP:
                return Scan(out, last, False)
            last = frame.event_id
            if test(frame):
                out.append(frame)
                if len(out) >= limit:
                    return Scan(out, last, False)
    return Scan(out, last, True)


def get(event_id: str) -> tuple[EventFrame, bytes | None] | None:
    with reader() as log:
        return log.get(event_id) if log is not None else None


# -- per-source state -----------------------------------------------------------------------


def source_state(source: str, *, recent_n: int = 10, window: int = 500) -> dict[str, Any]:
    """Latest events of one source and the newest event per entity (its current state):
    the store's entity fold, the same as `waitbus top`, over the last `window` events."""
    from itertools import islice

    from waitbus import entity_keys

    with reader() as log:
        if log is None:
            return {"source": source, "event_count": 0, "entities": [], "latest_events": []}
        count = log.count(source=source)
        entities = log.entities(source=source, last=window, keys=entity_keys())
        latest = [frame for _, frame in islice(log.recent(source=source), recent_n)]
    return {
        "source": source,
        "event_count": count,
        "entities": [
            {
                "entity": f"{e.kind} {e.name}",
                "state": e.state,
                "failed": e.failed,
                "events": e.events,
                "event_type": e.frame.event_type,
                "event_id": e.frame.event_id,
                "time": iso_utc(e.frame.received_at),
                "summary": e.frame.summary,
            }
            for e in entities
        ],
        "latest_events": [
            {
                "event_id": f.event_id,
                "event_type": f.event_type,
                "time": iso_utc(f.received_at),
                "summary": f.summary,
                "owner": f.owner,
                "repo": f.repo,
            }
            for f in latest
        ],
        "entities_from_last_n_events": min(count, window),
    }


# -- a repository's CI state ----------------------------------------------------------------

CI_TYPES = ("workflow_run", "workflow_job")


def _ci_item(frame: EventFrame, *keys: str) -> dict[str, Any]:
    f = frame.fields
    return {
        **{k: f.get(k) for k in keys},
        "head_sha": f.get("head_sha"),
        "status": f.get("status"),
        "conclusion": f.get("conclusion"),
        "event_id": frame.event_id,
        "time": iso_utc(frame.received_at),
    }


def repo_state(owner: str, repo: str, *, window: int = 5000, keep: int = 20) -> dict[str, Any]:
    """The latest CI state of one repository from its GitHub events (the github source's
    flat fields): the newest state of each run and job, and a verdict per commit:
    `failure` once a run or job of it failed (the source's own failure rule), `success`
    once all its runs completed with at least one success, else `pending`."""
    from itertools import islice

    from waitbus import is_failure

    runs: dict[object, EventFrame] = {}
    jobs: dict[object, EventFrame] = {}
    with reader() as log:
        newest = [] if log is None else [f for _, f in islice(log.recent(source="github"), window)]
    for frame in newest:  # newest first: the first seen of each run or job is its state
        if (frame.owner, frame.repo) != (owner, repo) or frame.event_type not in CI_TYPES:
            continue
        key = frame.fields.get("run_id" if frame.event_type == "workflow_run" else "job_id")
        table = runs if frame.event_type == "workflow_run" else jobs
        table.setdefault(key if key is not None else frame.event_id, frame)
    shas: dict[str, dict[str, Any]] = {}
    for frame in [*runs.values(), *jobs.values()]:
        sha = frame.fields.get("head_sha")
        if not isinstance(sha, str):
            continue
        entry = shas.setdefault(sha, {"sha": sha, "runs": 0, "completed": 0, "succeeded": 0, "failed": [], "_t": 0})
        entry["_t"] = max(entry["_t"], frame.received_at)
        if is_failure(frame):
            entry["failed"].append(frame.fields.get("workflow") or frame.fields.get("name") or frame.event_type)
        if frame.event_type == "workflow_run":
            entry["runs"] += 1
            entry["completed"] += frame.fields.get("status") == "completed"
            entry["succeeded"] += frame.fields.get("conclusion") == "success"
    verdicts = []
    for entry in sorted(shas.values(), key=lambda e: -e.pop("_t")):
        done = entry["runs"] and entry["completed"] == entry["runs"] and entry["succeeded"]
        entry["verdict"] = "failure" if entry["failed"] else "success" if done else "pending"
        verdicts.append(entry)
    return {
        "owner": owner,
        "repo": repo,
        "shas": verdicts[:keep],
        "runs": [_ci_item(f, "run_id", "workflow", "branch", "run_attempt") for f in list(runs.values())[:keep]],
        "jobs": [_ci_item(f, "job_id", "run_id", "name") for f in list(jobs.values())[: keep * 3]],
    }

"""The two routes the listener mounts: `POST /alertmanager` and `POST /watchdog`.

Both take a stock Alertmanager webhook notification and store one event per alert.
Nothing is parsed, let alone stored, before the request is authenticated.

Status codes are chosen for Alertmanager's retry rule (it retries 5xx, never 4xx):
401 bad credentials, 400 a body it would never send, 503 when nothing is staged or
the log cannot be written (so the notification is retried once that is fixed).
"""

from __future__ import annotations

import json
import time
from typing import Any

from waitbus import EventError, HttpRequest, HttpResponse, emit
from waitbus_store import PathError, StoreError

from ._auth import AuthError, authenticate
from ._names import ALERT_EVENT, SOURCE_NAME, WATCHDOG_EVENT
from ._payload import Alert, PayloadError, parse_payload
from ._state import touch_heartbeat

# The Watchdog alert is re-sent unchanged every repeat_interval, and each of those is a
# heartbeat worth keeping; a retried delivery of the same heartbeat is not. So its
# firing key also carries the minute it arrived in: at most one heartbeat event per
# minute, and the heartbeat file (touched on every one) covers the finer grain.
HEARTBEAT_BUCKET_S = 60


def _json(status: int, obj: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, json.dumps(obj, separators=(",", ":")).encode() + b"\n")


def _default_owner_repo(req: HttpRequest) -> tuple[str | None, str | None]:
    """`[prometheus] owner`/`repo` of the config: the labels of an alert that has
    neither `owner` nor `repo` itself, so that `--repo` filters reach alerts too."""
    prometheus = req.config.get("prometheus") or {}
    return prometheus.get("owner"), prometheus.get("repo")


def _store(req: HttpRequest, event_type: str) -> tuple[HttpResponse, list[Alert]]:
    try:
        authenticate(req.headers, req.body, req.secrets)
    except AuthError as exc:
        return _json(exc.status, {"error": str(exc)}), []
    try:
        alerts, truncated = parse_payload(req.body)
    except PayloadError as exc:
        return _json(400, {"error": str(exc)}), []
    stored = duplicates = 0
    default = _default_owner_repo(req)
    bucket = str(int(time.time() // HEARTBEAT_BUCKET_S))
    try:
        for alert in alerts:
            extra = bucket if event_type == WATCHDOG_EVENT and alert.status == "firing" else ""
            owner, repo = alert.owner_repo() or default
            result = emit(
                SOURCE_NAME,
                event_type,
                fields=alert.fields(),
                payload=alert.raw,
                delivery_id=alert.dedup_key(extra),
                owner=owner,
                repo=repo,
                summary=alert.summary_line(),
            )
            if result.inserted:
                stored += 1
            else:
                duplicates += 1
    except EventError as exc:
        # Only an alert too big for the fields limit gets here; retrying cannot help.
        return _json(400, {"error": f"alert not stored: {exc}", "stored": stored, "duplicates": duplicates}), []
    except (StoreError, PathError, OSError) as exc:
        return _json(503, {"error": f"the event log cannot be written: {exc}"}), []
    body: dict[str, Any] = {"stored": stored, "duplicates": duplicates}
    if truncated:
        body["truncated_alerts"] = truncated  # Alertmanager dropped these (max_alerts)
    return _json(200, body), alerts


def handle_alertmanager(req: HttpRequest) -> HttpResponse:
    """`POST /alertmanager`: one `prometheus_alert` event per alert of the notification."""
    return _store(req, ALERT_EVENT)[0]


def handle_watchdog(req: HttpRequest) -> HttpResponse:
    """`POST /watchdog`: the always-firing Watchdog alert, as `prometheus_watchdog` events.

    Every authenticated notification with a firing alert also touches
    `<state dir>/watchdog/heartbeat`, which `waitbus watchdog-check run` reads.
    """
    response, alerts = _store(req, WATCHDOG_EVENT)
    firing = [a for a in alerts if a.status == "firing"]
    if response.status == 200 and firing:
        try:
            touch_heartbeat(firing[0].fingerprint)
        except (PathError, OSError) as exc:
            return _json(503, {"error": f"the heartbeat file cannot be written: {exc}"})
    return response

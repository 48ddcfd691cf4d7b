"""`POST /webhook`: GitHub's workflow_run / workflow_job deliveries, HMAC-verified.

Order matters: the signature is checked over the raw body before the body is even
parsed, so nothing from an unauthenticated request is looked at, let alone stored.
The delivery id of a stored event is its transition key (see `_fields`), not
`X-GitHub-Delivery` (kept in `fields.github_delivery`): a GitHub redelivery is the
same transition, so it is a no-op, and so is the ETag poller's copy of it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from waitbus import HttpRequest, HttpResponse

from ._fields import JOB, RUN, job_fields, repo_of, run_fields, summarize, transition_key

SECRET_NAME = "github-webhook-secret"  # noqa: S105 - the name of the secret, not its value
SIGNATURE_HEADER = "x-hub-signature-256"
STORED_TYPES = (RUN, JOB)
MAX_PAYLOAD_BYTES = 4 * 1024 * 1024  # the SDK's payload cap; a bigger body is stored without it


def sign(secret: str | bytes, body: bytes) -> str:
    """The `X-Hub-Signature-256` value GitHub sends for `body`."""
    key = secret.encode() if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, body: bytes, header: str | None) -> bool:
    """True if `header` is `sha256=<hex>` of HMAC-SHA256(secret, body); constant-time."""
    if not header or not secret:
        return False
    scheme, _, digest = header.strip().partition("=")
    if scheme.lower() != "sha256" or not digest:
        return False
    expected = sign(secret, body).partition("=")[2]
    # compare_digest on ASCII bytes: a non-ASCII header must not raise, just fail.
    return hmac.compare_digest(expected.encode(), digest.strip().lower().encode("utf-8", "replace"))


def _reply(status: int, **body: Any) -> HttpResponse:
    return HttpResponse(status, json.dumps(body, sort_keys=True).encode() + b"\n")


def _decode(req: HttpRequest) -> Any:
    """The delivery as JSON; GitHub can also send it form-encoded as `payload=<json>`."""
    content_type = req.headers.get("content-type", "").split(";")[0].strip().lower()
    text = req.body.decode("utf-8")
    if content_type == "application/x-www-form-urlencoded":
        text = parse_qs(text, strict_parsing=True)["payload"][0]
    return json.loads(text)


def event_from_delivery(event: str, body: Mapping[str, Any]) -> tuple[dict[str, Any], str | None, str | None]:
    """(fields, owner, repo) of a workflow_run / workflow_job delivery; ValueError if
    the delivery lacks the object its event names."""
    obj = body.get(event)
    if not isinstance(obj, Mapping):
        raise ValueError(f"a {event} delivery must hold a {event!r} object")
    workflow = body.get("workflow")
    fields = (
        run_fields(obj, workflow=workflow if isinstance(workflow, Mapping) else None)
        if event == RUN
        else job_fields(obj)
    )
    fields["action"] = body.get("action") if isinstance(body.get("action"), str) else None
    owner, repo = repo_of(body)
    return fields, owner, repo


def handle_webhook(req: HttpRequest) -> HttpResponse:
    """The route handler the listener mounts at `POST /webhook`."""
    secret = req.secrets.get(SECRET_NAME)
    if not secret:
        return _reply(
            503,
            error=f"no {SECRET_NAME} is staged, so no delivery can be verified; "
            f"run: waitbus install-credentials {SECRET_NAME} (then restart the listener)",
        )
    if SIGNATURE_HEADER not in req.headers:
        return _reply(401, error="missing X-Hub-Signature-256")
    if not verify_signature(secret, req.body, req.headers[SIGNATURE_HEADER]):
        return _reply(401, error="bad X-Hub-Signature-256 (HMAC-SHA256 of the body with github-webhook-secret)")
    # Authenticated from here on.
    event = req.headers.get("x-github-event", "").strip()
    github_delivery = req.headers.get("x-github-delivery", "").strip() or None
    if not event:
        return _reply(400, error="missing X-GitHub-Event")
    try:
        body = _decode(req)
    except (ValueError, KeyError, UnicodeDecodeError, RecursionError) as exc:
        return _reply(400, error=f"the body is not a JSON delivery: {exc}")
    if not isinstance(body, dict):
        return _reply(400, error="the body must be a JSON object")
    if event == "ping":
        return _reply(200, ok=True, pong=True, hook_id=body.get("hook_id"))
    if event not in STORED_TYPES:
        return _reply(202, ok=True, ignored=event, reason="only workflow_run and workflow_job are stored")
    try:
        fields, owner, repo = event_from_delivery(event, body)
    except ValueError as exc:
        return _reply(400, error=str(exc))
    fields["github_delivery"] = github_delivery
    fields["origin"] = "webhook"
    return _store(event, fields, owner, repo, req.body)


def _store(event: str, fields: dict[str, Any], owner: str | None, repo: str | None, raw: bytes) -> HttpResponse:
    import waitbus
    from waitbus_store import PathError, StoreError

    key = transition_key(event, fields)
    payload: bytes | None = raw
    if len(raw) > MAX_PAYLOAD_BYTES:
        payload, fields["payload_dropped"] = None, True
    try:
        result = waitbus.emit(
            "github",
            event,
            fields=fields,
            payload=payload,
            delivery_id=key,
            owner=owner,
            repo=repo,
            summary=summarize(event, fields, owner, repo),
        )
    except waitbus.EventError as exc:
        return _reply(400, error=f"cannot store this delivery: {exc}")
    except (StoreError, PathError) as exc:  # PathError: the state dir went away since start
        return _reply(503, error=f"the event log could not be written: {exc}")
    return _reply(200, ok=True, event_id=result.event_id, inserted=result.inserted, delivery_id=key)

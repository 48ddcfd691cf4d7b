"""The 0600 secrets file (`<state dir>/secrets.json`): merge one value in with an
atomic replace (waitbus_store reads it). Values never go through argv and are never printed."""

from __future__ import annotations

import re
from pathlib import Path

from waitbus_store import SecretsError, read_secrets, write_json_atomic

NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
KNOWN = {
    "github-webhook-secret": "HMAC secret for GitHub webhook signatures (listener)",
    "alertmanager-token": "bearer token Alertmanager sends (listener)",
    "alertmanager-hmac": "HMAC secret of a signing proxy in front of Alertmanager (optional)",
    "emit-token": "bearer token for POST /emit on the listener",
    "github-token": "GitHub API token for the ETag poller (else GH_TOKEN)",
    "nats-user": "NATS user name for `waitbus bridge nats` (with nats-password)",
    "nats-password": "NATS password for `waitbus bridge nats` (with nats-user)",
    "nats-token": "NATS token for `waitbus bridge nats`",
    "nats-creds": "path of a NATS .creds file for `waitbus bridge nats`",
}


def store_secret(path: Path, name: str, value: str) -> bool:
    """Merge `name` in; True if it replaced an existing value (a rotation)."""
    if not NAME_RE.match(name):
        raise SecretsError(f"bad secret name {name!r}: lowercase letters, digits and '-'")
    value = value.strip()
    if not value:
        raise SecretsError("the secret is empty; pass it on stdin or with --file")
    data = read_secrets(path)
    rotated = name in data
    data[name] = value
    write_json_atomic(path, data, indent=2)
    return rotated


__all__ = ["KNOWN", "NAME_RE", "SecretsError", "read_secrets", "store_secret"]

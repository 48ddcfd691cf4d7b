"""The Alertmanager webhook payload (version "4", what 0.25+ sends) and the events made from it.

Alertmanager sends no delivery id, so the dedup key is derived from what identifies one
state of one alert: the group key, the alert's fingerprint, its status and when it
started (and, once resolved, when it ended). A repeat notification of the same state
maps to the same key and stores nothing; a resolve, or the same alert firing again
later (a new startsAt), is a new event.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from ._errors import AlertmanagerError

PAYLOAD_VERSION = "4"
STATUSES = ("firing", "resolved")
# Go's zero time: what Alertmanager puts in endsAt of a firing alert.
_GO_ZERO_TIME = "0001-01-01T00:00:00Z"
_MAX_TEXT = 4096  # annotation text kept in fields (the whole alert is in the payload)
_MAX_LABEL = 200  # owner/repo labels: the SDK's limit for those columns


class PayloadError(AlertmanagerError, ValueError):
    """The body is not an Alertmanager webhook payload; the message says what is wrong."""


@dataclass(frozen=True)
class Alert:
    """One alert of a notification, with the group context it arrived in."""

    status: str
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: str
    ends_at: str | None
    generator_url: str
    fingerprint: str
    group_key: str
    receiver: str
    external_url: str
    raw: dict[str, Any]

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str | None:
        return self.labels.get("severity")

    def dedup_key(self, extra: str = "") -> str:
        """The delivery id: stable across repeat notifications of one alert state."""
        parts = [self.group_key, self.fingerprint, self.status, self.starts_at]
        if self.status == "resolved":
            parts.append(self.ends_at or "")
        if extra:
            parts.append(extra)
        digest = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
        return f"{self.fingerprint[:32]}:{self.status}:{digest[:40]}"

    def fields(self) -> dict[str, Any]:
        return {
            "alertname": self.alertname,
            "severity": self.severity,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "labels": self.labels,
            "summary": _cap(self.annotations.get("summary")),
            "description": _cap(self.annotations.get("description")),
            "group_key": self.group_key,
            "receiver": self.receiver,
            "generator_url": self.generator_url or None,
            "external_url": self.external_url or None,
        }

    def summary_line(self) -> str:
        """`[firing] HighErrorRate (critical): 5% of requests fail`."""
        line = f"[{self.status}] {self.alertname or self.fingerprint}"
        if self.severity:
            line += f" ({self.severity})"
        text = self.annotations.get("summary") or self.annotations.get("description")
        return f"{line}: {text}" if text else line

    def owner_repo(self) -> tuple[str | None, str | None] | None:
        """The alert's usable `owner` / `repo` labels; None when it has neither."""
        pair = _label(self.labels.get("owner")), _label(self.labels.get("repo"))
        return pair if pair != (None, None) else None


def _cap(text: str | None) -> str | None:
    if text is None:
        return None
    return text if len(text) <= _MAX_TEXT else text[: _MAX_TEXT - 1] + "\u2026"


def _label(value: str | None) -> str | None:
    if not value or len(value) > _MAX_LABEL or any(c in value for c in "\r\n"):
        return None
    return value


def _str_map(obj: Any, what: str) -> dict[str, str]:
    if obj is None:
        return {}
    if not isinstance(obj, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in obj.items()):
        raise PayloadError(f"{what} must be an object of strings")
    return dict(obj)


def _str(obj: dict[str, Any], key: str, what: str, *, required: bool = True) -> str:
    value = obj.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise PayloadError(f"{what}.{key} must be a non-empty string")
    return value


def parse_payload(body: bytes) -> tuple[list[Alert], int]:
    """The alerts of one webhook notification, and its truncatedAlerts count.

    Raises PayloadError for anything a stock Alertmanager would not send: not JSON,
    another payload version, an alert without status, labels, startsAt or fingerprint.
    """
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested too deep
        raise PayloadError(f"body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise PayloadError("body must be a JSON object (an Alertmanager webhook notification)")
    version = data.get("version", PAYLOAD_VERSION)
    if version != PAYLOAD_VERSION:
        raise PayloadError(
            f"payload version {version!r} is not supported (Alertmanager 0.25+ sends {PAYLOAD_VERSION!r})"
        )
    alerts = data.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("alerts must be a list")
    group_key = _str(data, "groupKey", "notification", required=False)
    receiver = _str(data, "receiver", "notification", required=False)
    external_url = _str(data, "externalURL", "notification", required=False)
    truncated = data.get("truncatedAlerts", 0)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError("truncatedAlerts must be a non-negative integer")
    out: list[Alert] = []
    for i, raw in enumerate(alerts):
        where = f"alerts[{i}]"
        if not isinstance(raw, dict):
            raise PayloadError(f"{where} must be an object")
        status = raw.get("status")
        if status not in STATUSES:
            raise PayloadError(f"{where}.status must be 'firing' or 'resolved', not {status!r}")
        labels = _str_map(raw.get("labels"), f"{where}.labels")
        if not labels:
            raise PayloadError(f"{where}.labels must not be empty")
        ends_at = _str(raw, "endsAt", where, required=False)
        out.append(
            Alert(
                status=status,
                labels=labels,
                annotations=_str_map(raw.get("annotations"), f"{where}.annotations"),
                starts_at=_str(raw, "startsAt", where),
                ends_at=None if ends_at in ("", _GO_ZERO_TIME) else ends_at,
                generator_url=_str(raw, "generatorURL", where, required=False),
                fingerprint=_str(raw, "fingerprint", where),
                group_key=group_key,
                receiver=receiver,
                external_url=external_url,
                raw=raw,
            )
        )
    return out, truncated

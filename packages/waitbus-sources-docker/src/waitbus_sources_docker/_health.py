"""The health status behind a bare `health_status` event (podman 4).

Docker writes the result into the event (`health_status: healthy`); podman 4.3 emits
`health_status` when a check *starts* and records the result in the container's health
log only when the check ends, so the runner finds that check in the log of
`inspect_container` (its Start..End span holds the event time) and waits for it to be
written if it is still running. Measured on podman 4.3: the event lands inside the span.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

# The event is stamped a few µs after the check's Start; allow for clock rounding.
_TOLERANCE_NS = 50_000_000
_RFC3339 = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$")
DEFAULT_CHECK_TIMEOUT_S = 30.0


def parse_rfc3339_ns(text: Any) -> int | None:
    """ "2026-11-26T01:13:05.120871492Z" -> ns since the epoch (datetime alone stops at µs)."""
    if not isinstance(text, str):
        return None
    m = _RFC3339.match(text)
    if m is None:
        return None
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    try:
        whole = datetime.fromisoformat(m.group(1) + zone)
    except ValueError:
        return None
    return int(whole.timestamp()) * 1_000_000_000 + int((m.group(2) or "0").ljust(9, "0"))


def check_timeout_s(inspect: Mapping[str, Any]) -> float:
    """How long one check may run (Config.Healthcheck.Timeout, ns), for bounding the wait."""
    config = inspect.get("Config")
    check = config.get("Healthcheck") if isinstance(config, Mapping) else None
    timeout = check.get("Timeout") if isinstance(check, Mapping) else None
    if isinstance(timeout, int) and not isinstance(timeout, bool) and timeout > 0:
        return timeout / 1e9
    return DEFAULT_CHECK_TIMEOUT_S


def health_at(inspect: Mapping[str, Any], time_ns: int) -> tuple[str | None, bool]:
    """(status, final) for the check that fired an event at `time_ns`.

    final=False: that check has not been written to the log yet; inspect again shortly.
    For the newest check the container's own status is exact (podman writes the log and
    the status together); for an older one (a replay after later checks ran) only its
    exit code is left, so 0 reads as healthy and anything else as unhealthy.
    """
    state = inspect.get("State")
    health = state.get("Health") if isinstance(state, Mapping) else None
    if not isinstance(health, Mapping):
        return None, True  # no health check configured (or the engine does not say)
    raw_log = health.get("Log")
    entries: list[tuple[int, int, Any]] = []
    for item in raw_log if isinstance(raw_log, list) else []:
        if not isinstance(item, Mapping):
            continue
        start, end = parse_rfc3339_ns(item.get("Start")), parse_rfc3339_ns(item.get("End"))
        if start is not None and end is not None:
            entries.append((start, end, item.get("ExitCode")))
    entries.sort(key=lambda e: e[0])
    for i, (start, end, code) in enumerate(entries):
        if start - _TOLERANCE_NS <= time_ns <= end + _TOLERANCE_NS:
            if i == len(entries) - 1:
                status = health.get("Status")
                return (status if isinstance(status, str) and status else None), True
            return ("healthy" if code == 0 else "unhealthy"), True
    if entries and entries[-1][0] > time_ns:
        return None, True  # later checks exist and this one is no longer in the log
    if isinstance(state, Mapping) and state.get("Running") is False:
        return None, True  # the container stopped mid-check: no result is coming
    return None, False

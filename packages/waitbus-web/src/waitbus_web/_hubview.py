"""The hub's connected subscribers and their lag, from its `op: stats` reply, named by
their command lines (the hub accepts only our own UID, so these are our processes)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

REFRESH_S = 2.0  # how often an open page is sent the subscriber list
CMDLINE_CHARS = 120


def process_name(pid: int | None) -> str:
    """A process's command line, shortened; "" where /proc cannot say."""
    if pid is None:
        return ""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(4096)
    except OSError:
        return ""
    text = raw.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")
    return text if len(text) <= CMDLINE_CHARS else text[: CMDLINE_CHARS - 1] + "\u2026"


def stats_view() -> dict[str, Any]:
    """{"hub": {...} | None, "why": str, "clients": [...]} for the page (blocking)."""
    from waitbus import hub_stats

    stats, why = hub_stats(timeout=2.0)
    if stats is None:
        return {"hub": None, "why": why, "clients": []}
    me = os.getpid()
    clients = [
        {
            "pid": c.pid,
            "command": process_name(c.pid),
            "state": c.state,
            "connected_sec": c.connected_sec,
            "queued_bytes": c.queued_bytes,
            "behind_rows": c.behind_rows,
            "this_server": c.pid == me,
        }
        for c in stats.clients
    ]
    hub = {
        "pid": stats.pid,
        "uptime_sec": stats.uptime_sec,
        "subscribers": stats.subscribers,
        "head_event_id": stats.head_event_id,
        "events_broadcast": stats.events_broadcast,
        "evictions": stats.evictions,
    }
    return {"hub": hub, "why": "", "clients": clients}


class StatsCache:
    """One hub round trip per refresh, however many pages are open."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._at = 0.0
        self._value: dict[str, Any] = {}

    async def get(self) -> dict[str, Any]:
        async with self._lock:
            if time.monotonic() - self._at >= REFRESH_S / 2:
                self._value = await asyncio.to_thread(stats_view)
                self._at = time.monotonic()
            return self._value

"""What the churn tests watch on a real hub process: its resident memory and open
file descriptors (from /proc), its own counters (`op: stats`) and its log."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


class HubProbe:
    def __init__(self, hub: Any) -> None:
        self.hub = hub  # conftest.HubProcess

    def _status(self, key: str) -> int:
        for line in Path(f"/proc/{self.hub.pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name == key:
                return int(rest.split()[0])
        raise KeyError(key)

    def rss_kb(self) -> int:
        return self._status("VmRSS")

    def peak_kb(self) -> int:
        """VmHWM: the highest RSS since start, or since reset_peak()."""
        return self._status("VmHWM")

    def reset_peak(self) -> None:
        """Linux >= 4.0: writing 5 to clear_refs resets VmHWM to the current RSS, so a
        later peak_kb() is the peak of what happened in between."""
        Path(f"/proc/{self.hub.pid}/clear_refs").write_text("5")

    def cpu_ticks(self) -> int:
        """User + system CPU the hub has used so far, in clock ticks (1/100 s)."""
        fields = Path(f"/proc/{self.hub.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.hub.pid}/fd"))

    def stats(self) -> dict[str, Any]:
        from waitbus._hubinfo import hub_stats

        stats, why = hub_stats(self.hub.socket, timeout=10.0)
        assert stats is not None, why
        return {f: getattr(stats, f) for f in stats.__struct_fields__}

    def settle(self, read: Callable[[], int], limit: int, timeout: float = 15.0) -> int:
        """Poll `read` until it is <= limit (the hub frees a departed client when its
        loop next sees the EOF); return the last value, which the caller asserts."""
        deadline = time.monotonic() + timeout
        while (value := read()) > limit and time.monotonic() < deadline:
            time.sleep(0.05)
        return value

    def log_problems(self) -> list[str]:
        """Log lines that mean the hub hit something it did not expect."""
        bad = ("Traceback", "ERROR", "Exception", "CRITICAL")
        return [line for line in self.hub.log_text().splitlines() if any(b in line for b in bad)]


@pytest.fixture
def probe() -> Callable[[Any], HubProbe]:
    return HubProbe

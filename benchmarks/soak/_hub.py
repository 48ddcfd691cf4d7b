"""The hub under soak: sampled every window, restarted on schedule."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from benchmarks._harness import BenchEnv


class SampledHub:
    """Wraps the BenchEnv's hub. `gate` keeps a restart from landing inside a CLI
    wait (see _cli_loop)."""

    def __init__(self, env: BenchEnv) -> None:
        self.env = env
        self.gate = threading.Lock()
        self.restarts: list[dict[str, Any]] = []
        self.t0 = time.monotonic()

    def sample(self) -> dict[str, Any]:
        """RSS, peak RSS, open fds and CPU from /proc, and the hub's own counters."""
        hub = self.env.hub
        assert hub is not None
        row: dict[str, Any] = {"t_s": round(time.monotonic() - self.t0, 1), "pid": hub.pid}
        try:
            mem = self.env.hub_memory_mb()
            row.update(rss_mb=mem["VmRSS"], hwm_mb=mem["VmHWM"], fds=len(os.listdir(f"/proc/{hub.pid}/fd")))
            row["cpu_s"] = round(sum(self.env.hub_cpu_s()), 2)
            stats = self.env.hub_stats()
            row.update({k: stats.get(k) for k in ("subscribers", "evictions", "events_broadcast", "frames_sent")})
        except (OSError, RuntimeError, KeyError) as exc:  # the hub died under us (a zombie has no VmRSS)
            row["error"] = repr(exc)
        return row

    def restart(self, kind: str) -> None:
        """`sigterm`: a clean stop (drain, exit 0); `kill9`: no drain at all."""
        with self.gate:
            hub = self.env.hub
            assert hub is not None
            t = time.monotonic()
            at_ns = time.time_ns()
            if kind == "kill9":
                hub.kill()
                hub.wait(10)
            code = self.env.stop_hub()  # SIGTERM, or only reaps the killed one
            self.env.start_hub()
            self.restarts.append(
                {
                    "kind": kind,
                    "at_s": round(t - self.t0, 1),
                    "at_ns": at_ns,
                    "exit_code": code,
                    "downtime_s": round(time.monotonic() - t, 3),
                }
            )

    def run_windows(
        self,
        duration: float,
        window: float,
        restarts: Sequence[tuple[float, str]],
        say: Callable[[str], None],
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """Sample at the end of each window until `duration`, restarting the hub at
        its scheduled shares of the run. Returns the samples and the window
        boundaries (wall-clock ns, one more than the samples)."""
        self.t0 = start = time.monotonic()
        bounds = [time.time_ns()]
        samples: list[dict[str, Any]] = []
        pending = sorted((start + share * duration, kind) for share, kind in restarts)
        k = 1
        while (due := start + k * window) <= start + duration + 1e-6:
            while pending and pending[0][0] <= due:
                at, kind = pending.pop(0)
                time.sleep(max(0.0, at - time.monotonic()))
                say(f"hub restart: {kind}")
                self.restart(kind)
            time.sleep(max(0.0, due - time.monotonic()))
            samples.append(self.sample())
            bounds.append(time.time_ns())
            if k % max(1, round(60 / window)) == 0:
                s = samples[-1]
                say(f"{s['t_s']:.0f} s: hub RSS {s.get('rss_mb')} MB, {s.get('fds')} fds, {s.get('subscribers')} subs")
            k += 1
        return samples, bounds

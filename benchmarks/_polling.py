"""The baseline an agent without a bus would use: poll the store every P seconds
for new rows. Pollers (one process per period) and one bus subscriber watch the
same paced events in the same window, so detection latency and CPU sit side by side.

The poller is the cheapest polling there is (a kept-open SQLite connection and one
indexed SELECT per tick); an agent that polls by running a CLI, or by spending a
model turn, pays far more per tick.
"""

from __future__ import annotations

import json
import random
import resource
import sqlite3
import time
from typing import Any

from _harness import BenchEnv, SubscriberPool, finish, retire, wait_lines, worker
from _scenarios import end_run
from _stats import grid_us, percentiles_us

import waitbus

RUN = "poll"


def polling(env: BenchEnv, periods_s: list[float], events: int, gap_s: tuple[float, float]) -> dict[str, Any]:
    """Emit `events` events at random gaps (uniform in `gap_s`, fixed seed: the
    arrival phase against each poll tick is what makes the latency), each with its
    `t_ns`, then the run's `done` event; every watcher reports its latencies and CPU."""
    outs = {p: env.state_dir / f"poll-{p:g}.json" for p in periods_s}
    pollers = {p: worker("poll", p, RUN, out, env=env) for p, out in outs.items()}
    pool = SubscriberPool(env, RUN, 1, 1)
    rng = random.Random(6)
    try:
        wait_lines(list(pollers.values()), b"ready", 30)
        pool.wait_ready()
        t0 = time.perf_counter()
        for i in range(events):
            time.sleep(rng.uniform(*gap_s))
            waitbus.emit("bench", "poll", fields={"run": RUN, "i": i, "t_ns": time.time_ns()})
        end_run(RUN, events)
        window_s = time.perf_counter() - t0
        bus = pool.collect()
        polled = {p: finish(proc, outs[p], max(periods_s) * 3 + 30) for p, proc in pollers.items()}
    finally:
        pool.close()
        for proc in pollers.values():
            retire(proc)
    bus_lat = bus[0]["lat_ns"]
    bus_cpu_s = pool.cpu_user_s + pool.cpu_sys_s
    return {
        "events": events,
        "gap_s": list(gap_s),
        "window_s": round(window_s, 1),
        "bus": {
            "latency_us": percentiles_us(bus_lat),
            "dist_us": grid_us(bus_lat),
            "cpu_ms_per_min": round(bus_cpu_s * 1000 * 60 / window_s, 1),
            "missing": int(bus[0]["missing"]),
        },
        "pollers": [_poller_report(p, polled[p], events) for p in periods_s],
    }


def _poller_report(period_s: float, data: dict[str, Any], events: int) -> dict[str, Any]:
    lat = data["lat_ns"]
    window = data["window_s"]
    return {
        "period_s": period_s,
        "latency_us": percentiles_us(lat),
        "dist_us": grid_us(lat),
        "polls": data["polls"],
        "cpu_ms_per_min": round(data["cpu_s"] * 1000 * 60 / window, 1),
        "wakeups_per_min": round(data["wakeups"] * 60 / window, 1),
        "missing": events - len(lat),
    }


def poll_worker(period_s: float, run: str, out: str) -> int:
    """Worker side: every `period_s` (on a fixed schedule) SELECT the rows past the
    last seen seq; an event of `run` found there is "detected" now. Stops at `done`."""
    db = waitbus_db()
    conn = sqlite3.connect(db)
    head = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM events").fetchone()[0]
    lat: list[int] = []
    polls = 0
    print("ready", flush=True)
    r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    done = False
    while not done:
        polls += 1
        time.sleep(max(0.0, t0 + polls * period_s - time.perf_counter()))
        rows = conn.execute("SELECT seq, fields FROM events WHERE seq > ? ORDER BY seq", (head,)).fetchall()
        now = time.time_ns()
        for seq, fields in rows:
            head = seq
            f = json.loads(fields)
            if f.get("run") != run:
                continue
            if f.get("done"):
                done = True
            elif "t_ns" in f:
                lat.append(now - int(f["t_ns"]))
    r1, window = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter() - t0
    conn.close()
    with open(out, "w") as fh:
        json.dump(
            {
                "lat_ns": lat,
                "polls": polls,
                "window_s": window,
                "cpu_s": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
                "wakeups": r1.ru_nvcsw - r0.ru_nvcsw,
            },
            fh,
        )
    return 0


def waitbus_db() -> str:
    from waitbus_store import resolve_paths

    return str(resolve_paths().db)

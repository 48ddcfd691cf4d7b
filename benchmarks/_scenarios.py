"""The measured scenarios. Each takes a BenchEnv whose hub is running (unless
noted) and returns a plain dict for the JSON report."""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import time
from collections.abc import Callable
from typing import Any

from _harness import BenchEnv, SubscriberPool, scratch_env, sleep_until
from _stats import grid_us, percentiles_us

import waitbus

WARMUP_EVENTS = 20


def warm_up(run: str) -> None:
    """A few events the subscribers skip: first-frame costs stay out of the figures."""
    for i in range(WARMUP_EVENTS):
        waitbus.emit("bench", "warm", fields={"run": run, "warm": True, "i": i, "t_ns": time.time_ns()})
        time.sleep(0.002)
    time.sleep(0.2)


def end_run(run: str, count: int, settle_s: float = 0.5) -> None:
    """End the run. The pause first lets every subscriber take the last measured
    event before any of them starts its (CPU-heavy) tally and exit, which would
    otherwise steal the CPU from the slower ones and inflate their last receipts."""
    time.sleep(settle_s)
    waitbus.emit("bench", "done", fields={"run": run, "done": True, "count": count})


def delivery_checks(records: list[dict[str, Any]]) -> dict[str, int]:
    return {
        "missing": sum(int(r["missing"]) for r in records),
        "duplicates": sum(int(r["duplicates"]) for r in records),
        "out_of_order": sum(int(r["out_of_order"]) for r in records),
        "timed_out_subscribers": sum(1 for r in records if r["timed_out"]),
    }


class CpuWindow:
    """CPU seconds used by the hub and by this process between enter and exit."""

    def __init__(self, env: BenchEnv) -> None:
        self.env = env
        self.hub_s = self.self_s = self.wall_s = self.machine_busy_s = self.steal_s = 0.0

    def __enter__(self) -> CpuWindow:
        self._hub = sum(self.env.hub_cpu_s())
        self._self = own_cpu_s()
        self._machine = machine_cpu_s()
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.hub_s = sum(self.env.hub_cpu_s()) - self._hub
        self.self_s = own_cpu_s() - self._self
        busy, steal = machine_cpu_s()
        self.machine_busy_s, self.steal_s = busy - self._machine[0], steal - self._machine[1]
        self.wall_s = time.perf_counter() - self._t0


def own_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def machine_cpu_s() -> tuple[float, float]:
    """(busy, steal) CPU seconds of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as fh:
        user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fh.readline().split()[1:9])
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _cpu_report(hub: CpuWindow, emitter_s: float, pool: SubscriberPool, events: int, deliveries: int) -> dict[str, Any]:
    """Where the CPU went, per event (hub, emitter) and per delivery (subscribers),
    and how busy all cores were: on a 2-core box this explains most of the tail."""
    subs_s = pool.cpu_user_s + pool.cpu_sys_s
    cores = len(os.sched_getaffinity(0))
    ours = hub.hub_s + hub.self_s + subs_s
    return {
        "hub_us_per_event": round(hub.hub_s / events * 1e6, 1),
        "emitter_us_per_event": round(emitter_s / events * 1e6, 1),
        "subscriber_us_per_delivery": round(subs_s / max(1, deliveries) * 1e6, 1),
        "subscriber_sys_share": round(pool.cpu_sys_s / subs_s, 2) if subs_s else None,
        "benchmark_cores_busy": round(ours / hub.wall_s, 2),
        # Other processes on the box during the window (noise), and hypervisor steal.
        "foreign_cores_busy": round(max(0.0, hub.machine_busy_s - ours) / hub.wall_s, 2),
        "steal_cores": round(hub.steal_s / hub.wall_s, 2),
        "cores": cores,
    }


class _Paced:
    """What the open-loop emitter saw: its lateness against the schedule, the
    duration of each emit() call, and its own CPU time."""

    def __init__(self, run: str, events: int, rate: float) -> None:
        period_ns = 1e9 / rate
        cpu0 = own_cpu_s()
        start = time.perf_counter_ns() + 5_000_000
        self.lag_ns: list[int] = []
        self.call_ns: list[int] = []
        for i in range(events):
            self.lag_ns.append(sleep_until(start + int(i * period_ns)))
            t_call = time.perf_counter_ns()
            waitbus.emit("bench", "lat", fields={"run": run, "i": i, "t_ns": time.time_ns()})
            self.call_ns.append(time.perf_counter_ns() - t_call)
        self.elapsed_s = (time.perf_counter_ns() - start) / 1e9
        self.cpu_s = own_cpu_s() - cpu0


def latency(env: BenchEnv, procs: int, per_proc: int, events: int, rate: float) -> dict[str, Any]:
    """Open-loop emit -> receive latency: events leave on a fixed schedule (one every
    1/rate s) whatever the hub is doing, so a slow hub shows up as queueing in the
    tail instead of slowing the emitter down."""
    run = f"lat-{procs}x{per_proc}"
    pool = SubscriberPool(env, run, procs, per_proc)
    try:
        pool.wait_ready()
        with CpuWindow(env) as window:
            warm_up(run)
            paced = _Paced(run, events, rate)
            end_run(run, events)
            records = pool.collect()
    finally:
        pool.close()
    all_lat = [v for r in records for v in r["lat_ns"]]
    per_sub_p50 = [statistics.median(r["lat_ns"]) / 1000 for r in records if r["lat_ns"]]
    return {
        "subscribers": procs * per_proc,
        "processes": procs,
        "subscriptions_per_process": per_proc,
        "events": events,
        "target_rate": rate,
        "achieved_rate": round(events / paced.elapsed_s, 1),
        "latency_us": percentiles_us(all_lat),
        "dist_us": grid_us(all_lat),
        "per_subscriber_p50_us": {
            "min": round(min(per_sub_p50), 1) if per_sub_p50 else None,
            "max": round(max(per_sub_p50), 1) if per_sub_p50 else None,
        },
        "emitter_schedule_lag_us": percentiles_us(paced.lag_ns),
        "emit_call_us": percentiles_us(paced.call_ns),
        "cpu": _cpu_report(window, paced.cpu_s, pool, events, len(all_lat)),
        **delivery_checks(records),
    }


def burst(
    env: BenchEnv,
    events: int,
    procs: int,
    per_proc: int = 1,
    around: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
) -> dict[str, Any]:
    """One producer emits `events` back to back; `procs` x `per_proc` subscribers
    must each receive all of them. Throughput = deliveries / (first emit -> last receipt).
    `around()` is entered once the subscribers are up and left when all are done
    (the profiler hooks in there)."""
    run = f"burst-{procs}x{per_proc}"
    evictions_before = env.hub_log_count("evicting subscriber")
    pool = SubscriberPool(env, run, procs, per_proc)
    try:
        pool.wait_ready()
        warm_up(run)
        with around(), CpuWindow(env) as window:
            t_first = time.time_ns()
            cpu0 = own_cpu_s()
            for i in range(events):
                waitbus.emit("bench", "burst", fields={"run": run, "i": i, "t_ns": time.time_ns()})
            emitter_cpu_s = own_cpu_s() - cpu0
            t_emitted = time.time_ns()
            end_run(run, events)
            records = pool.collect()
    finally:
        pool.close()
    t_last = max(int(r["last_ns"]) for r in records)
    delivered = sum(int(r["received"]) for r in records)
    span = (t_last - t_first) / 1e9
    subs = procs * per_proc
    lat = [v for r in records for v in r["lat_ns"]]
    return {
        "events": events,
        "subscribers": subs,
        "processes": procs,
        "subscriptions_per_process": per_proc,
        "deliveries": delivered,
        "expected_deliveries": events * subs,
        "span_s": round(span, 3),
        # Counts only what arrived: a loss lowers the rate as well as showing in `missing`.
        "deliveries_per_s": round(delivered / span),
        "emit_phase_s": round((t_emitted - t_first) / 1e9, 3),
        "emit_rate_per_s": round(events / ((t_emitted - t_first) / 1e9)),
        "drain_after_last_emit_ms": round((t_last - t_emitted) / 1e6, 1),
        "latency_us": percentiles_us(lat),
        "dist_us": grid_us(lat),
        "hub_memory_after": env.hub_memory_mb(),
        "hub_evictions": env.hub_log_count("evicting subscriber") - evictions_before,
        "cpu": _cpu_report(window, emitter_cpu_s, pool, events, delivered),
        **delivery_checks(records),
    }


def emit_cost(runs: int, calls: int, label: str) -> dict[str, Any]:
    """Wall time per emit() call, in a loop of `calls`, for `runs` runs: median of the
    per-run means (the per-run means are in the report too)."""
    fields = {"run": label, "i": 0, "t_ns": 0}
    waitbus.emit("bench", "cost-warm", fields=fields)  # open the store and doorbell once
    per_run, each = [], []
    clock = time.perf_counter_ns
    for _ in range(runs):
        t0 = last = clock()
        for i in range(calls):
            waitbus.emit("bench", "cost", fields={"run": label, "i": i, "t_ns": time.time_ns()})
            now = clock()
            each.append(now - last)
            last = now
        per_run.append((last - t0) / calls / 1000)
    return {
        "runs": runs,
        "calls_per_run": calls,
        "per_call_us": round(statistics.median(per_run), 1),
        "per_run_us": [round(v, 1) for v in per_run],
        "single_call_us": percentiles_us(each),
        # Calls over 1 ms: a WAL checkpoint inside the call, or this process preempted.
        "calls_over_1ms": sum(1 for v in each if v > 1_000_000),
    }


def emit_cost_no_hub(runs: int, calls: int) -> dict[str, Any]:
    """emit() with no hub anywhere: a fresh pair of dirs with no doorbell socket."""
    with scratch_env():
        return emit_cost(runs, calls, "nohub")


def hub_idle_rss(env: BenchEnv, idle_s: float = 2.0) -> dict[str, float]:
    """Hub memory after start-up and `idle_s` seconds idle with one subscriber."""
    with waitbus.subscribe():
        time.sleep(idle_s)
        return env.hub_memory_mb()

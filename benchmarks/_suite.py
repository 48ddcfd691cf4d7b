"""The scenarios in the order they run, the three sizes (full, quick, smoke) and
running the selection once or `--repeat` times (medians across repeats)."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _baselines
import _polling
import _profile
import _scale
import _scenarios
import _startup
import _throughput
import _waiters
from _harness import BenchEnv
from _stats import merge_repeats


@dataclasses.dataclass(frozen=True)
class Config:
    name: str
    latency_events: int  # per latency scenario, sent at `rate` events/s
    rate: float
    latency_shapes: tuple[tuple[int, int], ...]  # (processes, subscriptions per process)
    burst_shapes: tuple[tuple[int, int, int], ...]  # (processes, subscriptions per process, events)
    emit_runs: int
    emit_calls: int  # per emit-cost run
    waitfor_events: int
    waitfor_period_s: float
    cli_events: int
    cli_period_s: float
    producer_procs: tuple[int, ...]
    producer_events: int  # per producer process
    replay_events: int
    idle_s: float
    poll_periods_s: tuple[float, ...]
    poll_events: int
    poll_gap_s: tuple[float, float]
    startup_runs: int
    unix_rounds: int
    sqlite_commits: int
    scale_rows: int  # the big log (issue #18: 10^6)
    scale_subs: int  # connected subscribers, raw sockets in one process
    scale_events: int  # events fanned out to them, one at a time


FULL = Config(
    name="full",
    latency_events=8000,
    rate=400.0,
    latency_shapes=((1, 1), (10, 1), (10, 10)),
    burst_shapes=((10, 1, 10_000), (10, 10, 10_000)),
    emit_runs=5,
    emit_calls=2000,
    waitfor_events=200,
    waitfor_period_s=0.025,
    cli_events=40,
    cli_period_s=0.25,
    producer_procs=(1, 4),
    producer_events=5000,
    replay_events=100_000,
    idle_s=10.0,
    poll_periods_s=(1.0, 5.0),
    poll_events=30,
    poll_gap_s=(0.2, 2.8),
    startup_runs=21,
    unix_rounds=5000,
    sqlite_commits=2000,
    scale_rows=1_000_000,
    scale_subs=1000,
    scale_events=50,
)
QUICK = dataclasses.replace(
    FULL,
    name="quick",
    latency_events=2000,
    latency_shapes=((1, 1), (10, 1)),
    burst_shapes=((10, 1, 10_000), (10, 10, 2000)),
    emit_calls=1000,
    waitfor_events=30,
    cli_events=10,
    producer_events=2000,
    replay_events=10_000,
    idle_s=3.0,
    poll_events=6,
    poll_gap_s=(0.3, 1.5),
    startup_runs=5,
    unix_rounds=2000,
    sqlite_commits=1000,
    scale_rows=100_000,
    scale_events=20,
)
# Only to keep the code from rotting (tests/benchmarks): every scenario, tiny sizes,
# polling at 50/200 ms. Its figures mean nothing.
SMOKE = dataclasses.replace(
    QUICK,
    name="smoke",
    latency_events=100,
    latency_shapes=((1, 1),),
    burst_shapes=((2, 1, 200),),
    emit_runs=1,
    emit_calls=50,
    waitfor_events=3,
    waitfor_period_s=0.05,
    cli_events=2,
    cli_period_s=0.3,
    producer_procs=(1, 2),
    producer_events=100,
    replay_events=500,
    idle_s=0.5,
    poll_periods_s=(0.05, 0.2),
    poll_events=3,
    poll_gap_s=(0.05, 0.15),
    startup_runs=1,
    unix_rounds=200,
    sqlite_commits=100,
    scale_rows=500,
    scale_subs=20,
    scale_events=3,
)
CONFIGS = {c.name: c for c in (FULL, QUICK, SMOKE)}


@dataclasses.dataclass(frozen=True)
class Scenario:
    name: str
    needs_hub: bool
    what: str
    run: Callable[[Config, BenchEnv], Any]


def _idle(cfg: Config, env: BenchEnv) -> dict[str, Any]:
    return {"rss": _scenarios.hub_idle_rss(env), "cpu": _waiters.idle_cpu(env, cfg.idle_s)}


def _fanout(cfg: Config, env: BenchEnv) -> list[dict[str, Any]]:
    return [_scenarios.burst(env, events, procs, per_proc) for procs, per_proc, events in cfg.burst_shapes]


def _emit(cfg: Config, env: BenchEnv) -> dict[str, Any]:
    return {
        "with_hub": _scenarios.emit_cost(cfg.emit_runs, cfg.emit_calls, "hub"),
        "no_hub": _scenarios.emit_cost_no_hub(cfg.emit_runs, cfg.emit_calls),
    }


SCENARIOS = [
    Scenario(
        "baselines",
        False,
        "AF_UNIX ping-pong, SQLite WAL commit, bare interpreter RSS",
        lambda c, e: _baselines.all_baselines(c.unix_rounds, c.sqlite_commits),
    ),
    Scenario("idle", True, "hub RSS idle; CPU of the idle hub and an idle `waitbus wait`", _idle),
    Scenario(
        "latency",
        True,
        "emit -> subscriber receive, open loop",
        lambda c, e: [_scenarios.latency(e, p, n, c.latency_events, c.rate) for p, n in c.latency_shapes],
    ),
    Scenario(
        "wait_for",
        True,
        "emit -> wait_for() returns",
        lambda c, e: _waiters.wait_for_unblock(e, c.waitfor_events, c.waitfor_period_s),
    ),
    Scenario(
        "cli_wait",
        True,
        "emit -> `waitbus wait` exits",
        lambda c, e: _waiters.cli_wait_exit(e, c.cli_events, c.cli_period_s),
    ),
    Scenario(
        "cli_on",
        True,
        "emit -> `waitbus on ... -- true` ran its command and exited",
        lambda c, e: _waiters.cli_wait_exit(e, c.cli_events, c.cli_period_s, on=True),
    ),
    Scenario(
        "producers",
        True,
        "emit() throughput from 1 and N processes",
        lambda c, e: [_throughput.producers(e, n, c.producer_events) for n in c.producer_procs],
    ),
    Scenario("fanout", True, "burst fan-out to N subscribers, losses counted", _fanout),
    Scenario("emit", True, "emit() cost per call, with and without a hub", _emit),
    Scenario(
        "replay", False, "replay from a cursor (own store and hub)", lambda c, e: _throughput.replay(c.replay_events)
    ),
    Scenario(
        "polling",
        True,
        "baseline: poll the store every P s vs a bus subscriber",
        lambda c, e: _polling.polling(e, list(c.poll_periods_s), c.poll_events, c.poll_gap_s),
    ),
    Scenario(
        "scale",
        False,
        "log size, event size, 1,000 subscribers (own store and hub)",
        lambda c, e: _scale.scale(c.scale_rows, c.emit_runs, c.emit_calls, c.scale_subs, c.scale_events, c.idle_s),
    ),
    Scenario(
        "startup", True, "cold start of the commands and waitbus-mcp", lambda c, e: _startup.startup(e, c.startup_runs)
    ),
]
NAMES = [s.name for s in SCENARIOS]


def step(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run_once(cfg: Config, names: list[str], *, keep: bool = False, profile: Path | None = None) -> dict[str, Any]:
    """Every selected scenario once, against one fresh env (its hub started on first need);
    with `profile` (a directory) also an extra py-spy-sampled burst."""
    results: dict[str, Any] = {}
    meta: dict[str, Any] = {}
    env = BenchEnv(keep=keep)
    try:
        env.activate()
        for sc in SCENARIOS:
            if sc.name not in names:
                continue
            if sc.needs_hub and env.hub is None:
                step(f"starting hub (state {env.state_dir}, runtime {env.runtime_dir})")
                env.start_hub()
            step(f"{sc.name}: {sc.what}")
            t0, busy0 = time.perf_counter(), _scenarios.machine_cpu_s()[0]
            results[sc.name] = sc.run(cfg, env)
            wall = time.perf_counter() - t0
            # Every core's busy time in the window, ours included: how loaded the box was.
            meta[sc.name] = {
                "wall_s": round(wall, 1),
                "machine_cores_busy": round((_scenarios.machine_cpu_s()[0] - busy0) / wall, 2),
            }
        if profile is not None:
            if env.hub is None:
                env.start_hub()
            procs, _, events = cfg.burst_shapes[0]  # the 1-subscription-per-process burst
            results["hub_profile"] = _profile.profile_burst(env, events, procs, profile)
        if env.hub is not None:
            results["hub_stats"] = env.hub_stats()
    except BaseException:
        tail = env.hub_log_tail().strip()
        if tail and tail != "(no hub log)":
            print(f"hub log tail:\n{tail}", file=sys.stderr)
        raise
    finally:
        env.close()
    results["scenario_meta"] = meta
    return results


def run(
    cfg: Config, names: list[str], repeat: int, *, keep: bool = False, profile: Path | None = None
) -> dict[str, Any]:
    """The selection `repeat` times; `results` is the median across repeats (loss
    counters summed), `repeats` each run as measured (when repeat > 1)."""
    runs = []
    for i in range(repeat):
        if repeat > 1:
            step(f"repeat {i + 1} of {repeat}")
        runs.append(run_once(cfg, names, keep=keep, profile=profile if i == 0 else None))
    out: dict[str, Any] = {"results": merge_repeats(runs)}
    if repeat > 1:
        out["repeats"] = runs
    out["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return out

"""End-to-end benchmark of waitbus against a real hub subprocess.

    .venv/bin/python benchmarks/e2e.py [--quick] [--profile] [--keep]

Measures emit -> subscriber latency (open loop, 1 / 10 / 100 subscribers), fan-out
throughput of a 10,000-event burst to 10 subscriber processes, emit() cost with and
without a hub, hub RSS, and baselines (AF_UNIX round trip, SQLite WAL commit, Python
start-up). Writes benchmarks/results/e2e-<date>[-quick].json and prints a Markdown
table. See benchmarks/README.md for what each figure means and the targets.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # our helper modules, whatever the cwd

import _baselines
import _profile
import _report
import _scenarios
from _harness import BenchEnv, cleanup_all, install_cleanup

BURST_EVENTS = 10_000
FANOUT_PROCS = 10


@dataclasses.dataclass(frozen=True)
class Config:
    latency_events: int  # per latency scenario, sent at `rate` events/s
    rate: float
    with_100: bool  # run the 100-subscriber latency scenario
    emit_runs: int
    emit_calls: int  # per emit-cost run


FULL = Config(latency_events=8000, rate=400.0, with_100=True, emit_runs=5, emit_calls=2000)
QUICK = Config(latency_events=2000, rate=400.0, with_100=False, emit_runs=5, emit_calls=1000)


def step(msg: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> dict[str, Any]:
    cfg = QUICK if args.quick else FULL
    results: dict[str, Any] = {}
    report = {
        "machine": _report.machine_info(),
        "config": {**dataclasses.asdict(cfg), "burst_events": BURST_EVENTS, "quick": args.quick},
        "results": results,
    }

    step("baselines: AF_UNIX ping-pong, SQLite WAL commit, python start-up")
    results["baselines"] = _baselines.all_baselines()

    env = BenchEnv(keep=args.keep)
    try:
        env.activate()
        step(f"starting hub (state {env.state_dir}, runtime {env.runtime_dir})")
        env.start_hub()
        results["hub_memory"] = {"idle": _scenarios.hub_idle_rss(env)}

        shapes = [(1, 1), (10, 1)] + ([(10, 10)] if cfg.with_100 else [])
        results["latency"] = []
        for procs, per_proc in shapes:
            step(f"latency: {procs} process(es) x {per_proc} subscription(s), {cfg.latency_events} events")
            results["latency"].append(_scenarios.latency(env, procs, per_proc, cfg.latency_events, cfg.rate))

        step(f"fan-out: burst of {BURST_EVENTS} events to {FANOUT_PROCS} subscriber processes")
        results["fanout"] = _scenarios.burst(env, BURST_EVENTS, FANOUT_PROCS)
        results["hub_memory"]["after_burst"] = env.hub_memory_mb()

        step("emit() cost with the hub running")
        emit = {"with_hub": _scenarios.emit_cost(cfg.emit_runs, cfg.emit_calls, "hub")}
        results["hub_stats"] = env.hub_stats()

        if args.profile:
            results["hub_profile"] = _profile.profile_burst(env, BURST_EVENTS, FANOUT_PROCS)

        env.stop_hub()
        step("emit() cost with no hub")
        emit["no_hub"] = _scenarios.emit_cost_no_hub(cfg.emit_runs, cfg.emit_calls)
        results["emit"] = emit
    except BaseException:
        tail = env.hub_log_tail().strip()
        if tail and tail != "(no hub log)":
            print(f"hub log tail:\n{tail}", file=sys.stderr)
        raise
    finally:
        env.close()
    return report


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--quick", action="store_true", help="fewer events, no 100-subscriber run (~20 s; default run ~75 s)"
    )
    p.add_argument("--profile", action="store_true", help="also sample the hub with py-spy during an extra burst")
    p.add_argument("--keep", action="store_true", help="keep the temp state/runtime dirs (and hub log)")
    p.add_argument("--json", action="store_true", help="print the full JSON report too")
    args = p.parse_args()
    install_cleanup()
    t0 = time.monotonic()
    try:
        report = run(args)
    except KeyboardInterrupt:
        print("e2e: interrupted; every process it started has been stopped", file=sys.stderr)
        return 130
    finally:
        cleanup_all()
    report["wall_s"] = round(time.monotonic() - t0, 1)
    report["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    path = _report.write_json(report, args.quick)
    print(_report.markdown_table(report))
    prof = report["results"].get("hub_profile")
    if prof and prof.get("busy_self_pct"):
        print(f"\nhub during the profiled burst: {prof['idle_pct']}% of samples idle; busy samples, self time:")
        for fn, pct in prof["busy_self_pct"].items():
            print(f"  {pct:5.1f}%  {fn}")
    if args.json:
        print(json.dumps(report, indent=2))
    step(f"wrote {path} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

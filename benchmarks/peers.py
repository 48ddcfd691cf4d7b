"""waitbus against what a user would pick instead, in one run on one machine:
Redis pub/sub and Streams (appendonly, fsync every second), NATS core and JetStream
(file storage, acked publish), `inotifywait` for files, and the reference waitbus
0.2.0 from PyPI (its own venv).

    .venv/bin/python benchmarks/peers.py             # full size (~16 min on a busy 2-core box)
    .venv/bin/python benchmarks/peers.py --quick     # smaller, no 100-subscriber shape
    .venv/bin/python benchmarks/peers.py --only waitbus,redis-streams,fs

Each peer gets the same shapes: 1, 10 and 100 subscriber processes receiving events
paced open loop by one publisher process, then a burst to 10 subscribers with losses
counted; every server on a free loopback port in a temp dir, stopped at the end.
Writes benchmarks/results/<date>-peers[-quick|-smoke].json, .md and .png. Install
the peers first: tools/peers/redis.sh, inotify.sh, waitbus-ref.sh and
`pip install -r benchmarks/requirements.txt`; a missing one is skipped with the reason.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # our helper modules, whatever the cwd

import _peer_fs
import _peers
import _peers_report
from _harness import cleanup_all, install_cleanup
from _report import RESULTS_DIR, machine_info
from _suite import step

FS = "fs"
NAMES = [*_peers.PEERS, FS]


@dataclasses.dataclass(frozen=True)
class Config:
    name: str
    events: int  # per paced shape
    rate: float
    sub_shapes: tuple[int, ...]  # subscriber processes
    burst_subs: int
    burst_events: int
    ref_events: int  # waitbus 0.2.0 emits at ~50/s on 2 cores: its paced shapes get fewer events
    ref_burst_events: int  # and a 10^4 burst would take minutes
    fs_rounds: int


FULL = Config("full", 4000, 400.0, (1, 10, 100), 10, 10_000, 400, 400, 40)
QUICK = dataclasses.replace(FULL, name="quick", events=1000, sub_shapes=(1, 10), burst_events=2000, fs_rounds=10)
# Only to keep the code working (tests/benchmarks): its figures mean nothing.
SMOKE = Config("smoke", 30, 200.0, (1, 2), 2, 50, 10, 10, 2)


def parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller, no 100-subscriber shape")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, for the test that keeps this code working")
    p.add_argument("--only", action="append", metavar="NAMES", help=f"comma-separated, of: {', '.join(NAMES)}")
    p.add_argument("--out", type=Path, default=RESULTS_DIR, help="directory for the result files")
    p.add_argument("--render", type=Path, metavar="JSON", help="only re-draw the .md and .png of a JSON report")
    args = p.parse_args(argv)
    names = [n.strip() for arg in args.only or [] for n in arg.split(",") if n.strip()] or NAMES
    if unknown := sorted(set(names) - set(NAMES)):
        p.error(f"unknown peer(s) {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    args.names = names
    return args


def run(cfg: Config, names: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {"peers": {}}
    runnable = []
    for name in names:
        if name == FS:
            continue
        if why := _peers.missing_reason(name):
            step(f"{name}: skipped, {why}")
            results["peers"][name] = {"skipped": why}
        else:
            runnable.append(name)
    if runnable:
        step(f"{', '.join(runnable)}: {len(cfg.sub_shapes)} paced shapes and a burst each, peers in turn")
        ref = "waitbus-ref"
        events = {n: cfg.ref_events if n == ref else cfg.events for n in runnable}
        burst = {n: (cfg.burst_subs, cfg.ref_burst_events if n == ref else cfg.burst_events) for n in runnable}
        results["peers"].update(_peers.run_all(runnable, cfg.sub_shapes, events, cfg.rate, burst))
        results["peers"] = {n: results["peers"][n] for n in names if n in results["peers"]}
    if FS in names:
        step(f"fs: file write -> inotifywait / `waitbus wait --source fs` exit, {cfg.fs_rounds} rounds")
        results["fs"] = _peer_fs.fs_exit(cfg.fs_rounds)
    return results


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        print(_peers_report.render(args.render)["md"].read_text())
        return 0
    cfg = SMOKE if args.smoke else QUICK if args.quick else FULL
    install_cleanup()
    t0 = time.monotonic()
    report: dict[str, Any] = {"machine": machine_info(), "config": dataclasses.asdict(cfg), "names": args.names}
    try:
        report["results"] = run(cfg, args.names)
    except KeyboardInterrupt:
        print("peers: interrupted; every process it started has been stopped", file=sys.stderr)
        return 130
    finally:
        cleanup_all()
    report["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    report["wall_s"] = round(time.monotonic() - t0, 1)
    report["goals"] = _peers_report.goals(report["results"])
    stem = "peers" if cfg.name == "full" else f"peers-{cfg.name}"
    if args.names != NAMES:
        stem += "-" + "+".join(args.names)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{dt.date.today().isoformat()}-{stem}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    files = _peers_report.render(path)
    print(files["md"].read_text())
    step(f"wrote {', '.join(str(p) for p in files.values())} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

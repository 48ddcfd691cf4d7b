"""The waitbus benchmark suite, end to end against real hub subprocesses.

    .venv/bin/python benchmarks/e2e.py                 # everything, full size (~3.5 min)
    .venv/bin/python benchmarks/e2e.py --quick         # everything, smaller (~1 min)
    .venv/bin/python benchmarks/e2e.py --only latency,startup --repeat 3

Scenarios, in run order: baselines, idle, latency, wait_for, cli_wait, cli_on, producers,
fanout, emit, replay, polling, startup (see benchmarks/README.md for each figure
and the budgets). Writes benchmarks/results/<date>-<name>.json, .md (the tables)
and .png (the latency plot; needs benchmarks/requirements.txt), and prints the tables.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # our helper modules, whatever the cwd

import _report
import _suite
from _harness import cleanup_all, install_cleanup


def _names(only: list[str] | None) -> list[str]:
    if not only:
        return list(_suite.NAMES)
    names = [n.strip() for arg in only for n in arg.split(",") if n.strip()]
    unknown = sorted(set(names) - set(_suite.NAMES))
    if unknown:
        raise SystemExit(f"e2e: unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(_suite.NAMES)}")
    return names


def _stem(cfg: _suite.Config, names: list[str]) -> str:
    stem = "e2e" if cfg.name == "full" else f"e2e-{cfg.name}"
    return stem if names == _suite.NAMES else f"{stem}-{'+'.join(names)}"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="smaller sizes, no 100-subscriber latency run")
    size.add_argument("--smoke", action="store_true", help="tiny sizes, for the test that keeps this code working")
    p.add_argument("--only", action="append", metavar="NAMES", help=f"comma-separated, of: {', '.join(_suite.NAMES)}")
    p.add_argument("--repeat", type=int, default=1, metavar="N", help="run N times; report the median of each figure")
    p.add_argument("--out", type=Path, default=_report.RESULTS_DIR, help="directory for the result files")
    p.add_argument("--profile", action="store_true", help="also sample the hub with py-spy during an extra burst")
    p.add_argument("--keep", action="store_true", help="keep the temp state/runtime dirs (and hub log)")
    p.add_argument("--json", action="store_true", help="print the full JSON report too")
    p.add_argument("--render", type=Path, metavar="JSON", help="only re-draw the .md and .png of a JSON report")
    args = p.parse_args(argv)
    if args.repeat < 1:
        p.error("--repeat must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.render:
        print(_report.render(args.render)["md"].read_text())
        return 0
    cfg = _suite.SMOKE if args.smoke else _suite.QUICK if args.quick else _suite.FULL
    names = _names(args.only)
    install_cleanup()
    t0 = time.monotonic()
    report: dict[str, Any] = {
        "machine": _report.machine_info(),
        "config": dataclasses.asdict(cfg),
        "scenarios": names,
        "repeat": args.repeat,
    }
    try:
        report.update(_suite.run(cfg, names, args.repeat, keep=args.keep, profile=args.out if args.profile else None))
    except KeyboardInterrupt:
        print("e2e: interrupted; every process it started has been stopped", file=sys.stderr)
        return 130
    finally:
        cleanup_all()
    report["wall_s"] = round(time.monotonic() - t0, 1)
    files = _report.write(report, _stem(cfg, names), args.out)
    print(files["md"].read_text())
    prof = report["results"].get("hub_profile")
    if prof and prof.get("busy_self_pct"):
        print(f"\nhub during the profiled burst: {prof['idle_pct']}% of samples idle; busy samples, self time:")
        for fn, pct in prof["busy_self_pct"].items():
            print(f"  {pct:5.1f}%  {fn}")
    if args.json:
        print(json.dumps(report, indent=2))
    _suite.step(f"wrote {', '.join(str(p) for p in files.values())} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

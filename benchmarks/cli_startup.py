"""Whole-process cost of the hot commands, against the bare interpreter.

    .venv/bin/python benchmarks/cli_startup.py [--runs 21]

Each command runs `--runs` times (after one warm-up run, with bytecode caching on as
on a user's machine); the table gives the median wall time and its ratio to
`python -c pass`. `waitbus wait ... --timeout 1ms` measures start-up, connect,
subscribe and the hub's ack (it then times out at once: exit 124).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _harness import BenchEnv, install_cleanup

BIN = Path(sys.executable).parent


def commands() -> dict[str, list[str]]:
    py, wb = sys.executable, str(BIN / "waitbus")
    return {
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import waitbus'": [py, "-c", "import waitbus"],
        "python -c 'from waitbus import emit'": [py, "-c", "from waitbus import emit"],
        "python -c 'from waitbus import wait_for'": [py, "-c", "from waitbus import wait_for"],
        "waitbus emit agent tick n=1": [wb, "emit", "agent", "tick", "n=1"],
        "waitbus wait --source x --timeout 1ms": [wb, "wait", "--source", "x", "--timeout", "1ms"],
        "waitbus --help (typer)": [wb, "--help"],
    }


def time_runs(cmd: list[str], env: dict[str, str], runs: int) -> float:
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)  # warm-up
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    install_cleanup()
    env_dirs = BenchEnv()
    try:
        env_dirs.start_hub()
        env = env_dirs.env()
        env.pop("PYTHONDONTWRITEBYTECODE", None)  # users have .pyc files; so should the measurement
        results = {name: time_runs(cmd, env, args.runs) for name, cmd in commands().items()}
    finally:
        env_dirs.close()
    base = results["python -c pass"]
    if args.json:
        print(json.dumps({"median_ms": results, "ratio_to_python": {k: v / base for k, v in results.items()}}))
        return 0
    print("| command | median ms | x `python -c pass` |\n|---|---|---|")
    for name, ms in results.items():
        print(f"| `{name}` | {ms:.1f} | {ms / base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Soak run: a mixed load against a real hub for a long while, watching for drift.

    .venv/bin/python benchmarks/soak/run.py [--duration 10m] [--emitters 4] [--rate 25]

Paced emitter processes (varied sizes and sources), persistent subscribers that must
see every event exactly once, churners joining and leaving (replay, `where`, leaving
mid-replay, a stalled reader, half-sent frames), repeated `waitbus wait` / `on`
invocations, and two hub restarts (SIGTERM, then kill -9). Samples the hub every few
seconds, writes benchmarks/soak/results/soak-<date>-<time>.json, prints a Markdown
table and exits 1 if an event was lost or duplicated, a wait failed, or the hub
logged a traceback. See benchmarks/soak/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # `benchmarks.*`, whatever the cwd

import waitbus
from benchmarks._harness import BenchEnv, cleanup_all, finish, install_cleanup, spawn, wait_lines
from benchmarks.soak._cli_loop import CliLoop
from benchmarks.soak._cli_loop import summarize as summarize_cli
from benchmarks.soak._hub import SampledHub
from benchmarks.soak._load import SOURCES, done_fields
from benchmarks.soak._summary import delivery_check, latency_windows, markdown

ROOT = Path(__file__).resolve().parents[2]
LOAD = Path(__file__).resolve().parent / "_load.py"
RESULTS = Path(__file__).resolve().parent / "results"
PERSISTENT = (("sub-all", "all"), ("sub-where", "where"), ("sub-source", "source"))
# When the hub is restarted, as a share of the duration: both early, so the last
# hub life is long enough to show drift on its own.
RESTARTS = ((0.25, "sigterm"), (0.40, "kill9"))
CATCH_UP_S = 5.0
HEARTBEAT_SEC = "5"
SNAPSHOT_ENV = "WAITBUS_SOAK_CODE"  # clients notice a vanished hub within 2.5 heartbeats


def duration_s(text: str) -> float:
    units = {"s": 1, "m": 60, "h": 3600}
    try:
        seconds = float(text[:-1]) * units[text[-1]] if text[-1:] in units else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r} (use 90s, 10m, 1h)") from None
    if seconds < 10:
        raise argparse.ArgumentTypeError("the duration must be at least 10s")
    return seconds


def on_a_snapshot(argv: list[str]) -> None:
    """Re-exec this run on a private copy of packages/*/src (first on PYTHONPATH, so
    it wins over the editable installs), unless already on one. Every process of the
    run (hub restarts and CLI waits included) then runs the code as it was at the
    start, even while someone edits the working tree."""
    if os.environ.get(SNAPSHOT_ENV):
        return
    code = Path(tempfile.mkdtemp(prefix="wbb-code-"))
    for pkg in sorted((ROOT / "packages").glob("*/src/*")):
        if pkg.is_dir() and pkg.name.isidentifier():
            shutil.copytree(pkg, code / pkg.name, ignore=shutil.ignore_patterns("__pycache__"))
    path = os.pathsep.join(p for p in (str(code), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path, SNAPSHOT_ENV: str(code)}
    os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *argv], env)


def code_info() -> dict[str, Any]:
    """Which code ran: the snapshot dir, the commit and how many files differed from it."""

    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    return {
        "snapshot": os.environ.get(SNAPSHOT_ENV),
        "waitbus_from": str(Path(waitbus.__file__).parent),
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_files": len(git("status", "--porcelain", "packages").splitlines()),
    }


def machine_info() -> dict[str, Any]:
    """benchmarks/_report.py's machine facts. The e2e modules import each other as
    top-level scripts (`import _plot`), so that one is loaded from its own dir, by
    name, where this package's imports cannot reach it statically."""
    sys.path.insert(1, str(ROOT / "benchmarks"))
    info: dict[str, Any] = importlib.import_module("_report").machine_info()
    return info


def step(msg: str) -> None:
    print(f"[soak {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Load:
    """The load processes, and the file each writes its record to when it ends."""

    def __init__(self, env: BenchEnv, args: argparse.Namespace, run: str) -> None:
        self.env, self.run = env, run
        self.dir = env.state_dir / "records"
        self.dir.mkdir()
        self.subs = [self._spawn("sub", name, mode, run, stdout=subprocess.PIPE) for name, mode in PERSISTENT]
        # Each says "ready" once the hub acked it, so none misses the first events.
        wait_lines([proc for proc, _ in self.subs], b"ready", timeout=60.0)
        self.emitters = [self._spawn("emit", str(i), str(args.rate), run) for i in range(args.emitters)]
        self.churners = [self._spawn("churn", str(i), run) for i in range(args.churners)]

    def _spawn(self, role: str, *argv: str, stdout: int = subprocess.DEVNULL) -> tuple[subprocess.Popen[bytes], Path]:
        out = self.dir / f"{role}-{argv[0]}.json"
        cmd = [sys.executable, str(LOAD), role, *argv, str(out)]
        return spawn(cmd, env=self.env.env(), stdin=subprocess.DEVNULL, stdout=stdout), out

    @staticmethod
    def _collect(procs: list[tuple[subprocess.Popen[bytes], Path]], timeout: float) -> list[dict[str, Any]]:
        """SIGTERM each load process; each writes its record and exits 0."""
        for proc, _ in procs:
            proc.terminate()
        return [finish(proc, path, timeout) for proc, path in procs]

    def stop_producers(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        churn = self._collect(self.churners, timeout=30.0)  # a session may be mid-read for 5 s
        emitted = self._collect(self.emitters, timeout=30.0)
        return emitted, churn

    def finish_subscribers(self, timeout: float = 180.0) -> list[dict[str, Any]]:
        """End the run with its `done` event; each persistent subscriber exits on it."""
        waitbus.emit(SOURCES[1], "soak", fields=done_fields(self.run))
        deadline = time.monotonic() + timeout
        return [finish(proc, path, max(0.1, deadline - time.monotonic())) for proc, path in self.subs]


def soak(args: argparse.Namespace) -> dict[str, Any]:
    os.environ["WAITBUS_HEARTBEAT_SEC"] = HEARTBEAT_SEC  # the hub's default, via env()
    report: dict[str, Any] = {
        "machine": machine_info(),
        "code": code_info(),
        "config": {**vars(args), "restarts": RESTARTS},
    }
    env = BenchEnv(keep=args.keep)
    with contextlib.ExitStack() as stack:
        stack.callback(env.close)
        env.activate()
        step(f"starting hub (state {env.state_dir}, runtime {env.runtime_dir})")
        env.start_hub()
        run = uuid.uuid4().hex[:12]
        hub = SampledHub(env)
        load = Load(env, args, run)
        cli = CliLoop(env.env(), run, hub.gate)
        cli.start()
        stack.callback(cli.stopping.set)  # also on an error: no waits against a stopped hub
        step(f"load running: {args.emitters} emitters x {args.rate}/s, {args.churners} churners, {args.duration:g} s")
        samples, bounds = hub.run_windows(args.duration, args.sample_sec, RESTARTS, step)
        step("stopping the load")
        cli.stop()
        emitted, churn = load.stop_producers()
        subs = load.finish_subscribers()
        time.sleep(2.0)  # let the hub notice every departed client
        quiesced = hub.sample()
        report["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
        hub_exit = env.stop_hub()
        log = env.hub_log.read_text(errors="replace") if env.hub_log.exists() else ""
        report["results"] = results(
            args, samples, bounds, hub.restarts, emitted, churn, subs, cli.results, quiesced, hub_exit, log
        )
        return report


def results(
    args: argparse.Namespace,
    samples: list[dict[str, Any]],
    bounds: list[int],
    restarts: list[dict[str, Any]],
    emitted: list[dict[str, Any]],
    churn: list[dict[str, Any]],
    subs: list[dict[str, Any]],
    cli_runs: list[dict[str, Any]],
    quiesced: dict[str, Any],
    hub_exit: int | None,
    log: str,
) -> dict[str, Any]:
    # An outage lasts from the stop until the clients are back and caught up (a few s).
    outages = [(r["at_ns"], r["at_ns"] + int((r["downtime_s"] + CATCH_UP_S) * 1e9)) for r in restarts]
    windows = latency_windows(subs, bounds, outages)
    checks = [delivery_check(s, emitted) for s in subs]
    cli = summarize_cli(cli_runs)
    sessions: dict[str, int] = {}
    for rec in churn:
        for mode, n in rec["sessions"].items():
            sessions[mode] = sessions.get(mode, 0) + n
    evictions: dict[int, int] = {}  # the hub's counters restart with each hub life
    for s in [*samples, quiesced]:
        if isinstance(s.get("evictions"), int):
            evictions[s["pid"]] = max(evictions.get(s["pid"], 0), s["evictions"])
    tracebacks = log.count("Traceback")
    problems = [
        f"{c['name']}: lost {c['lost']}, duplicated {c['duplicated']}" for c in checks if c["lost"] or c["duplicated"]
    ]
    problems += [f"{v}: {len(cli[v]['failures'])} non-zero exits" for v in ("wait", "on") if cli[v]["failures"]]
    problems += [f"hub log: {tracebacks} tracebacks"] if tracebacks else []
    problems += [f"hub not sampled at {s['t_s']} s: {s['error']}" for s in samples if "error" in s]
    problems += [f"churn errors: {sum(len(c['errors']) for c in churn)}"] if any(c["errors"] for c in churn) else []
    totals = {
        "duration": f"{args.duration:g} s, {len(samples)} windows of {args.sample_sec:g} s",
        "events emitted": f"{sum(e['count'] for e in emitted):,} by {args.emitters} emitters at {args.rate:g}/s each "
        f"({sum(len(e['failed']) for e in emitted)} emit() failures)",
        "event sizes small / medium / large": " / ".join(
            str(sum(e["sizes"][k] for e in emitted)) for k in ("small", "medium", "large")
        ),
        **{
            f"persistent `{c['name']}` ({c['mode']})": f"{c['received']:,} of {c['expected']:,}: lost {c['lost']}, "
            f"duplicated {c['duplicated']}, out of order {c['out_of_order']}, p99 {c['latency_ms'].get('p99')} ms"
            for c in checks
        },
        "churn sessions": f"{sum(sessions.values()):,} ("
        + ", ".join(f"{m} {n}" for m, n in sessions.items())
        + f"); {sum(c['hub_unavailable'] for c in churn)} found no hub (restarts)",
        "hub evictions (stalled readers)": sum(evictions.values()),
        "`waitbus wait` exit 0": f"{cli['wait']['exit_0']} of {cli['wait']['runs']} "
        f"(p50 {cli['wait']['seconds_p50']} s, max {cli['wait']['seconds_max']} s)",
        "`waitbus on -- true` exit 0": f"{cli['on']['exit_0']} of {cli['on']['runs']}",
        "hub restarts": "; ".join(
            f"{r['kind']} at {r['at_s']} s (exit {r['exit_code']}, back in {r['downtime_s']} s)" for r in restarts
        ),
        "hub peak RSS (VmHWM, max over lives)": f"{max((s.get('hwm_mb') or 0) for s in samples):g} MB",
        "after the load: hub subscribers / fds": f"{quiesced.get('subscribers')} / {quiesced.get('fds')}",
        "hub log: tracebacks / evictions logged": f"{tracebacks} / {log.count('evicting subscriber')}",
        "hub exit on final SIGTERM": hub_exit,
        "verdict": "PASS" if not problems else "FAIL: " + "; ".join(problems),
    }
    return {
        "samples": samples,
        "windows": windows,
        "restarts": restarts,
        "emitters": emitted,
        "churn": churn,
        "subscribers": checks,
        "cli": cli,
        "quiesced": quiesced,
        "hub_exit": hub_exit,
        "hub_log_tail": log.splitlines()[-40:] if tracebacks else [],
        "problems": problems,
        "totals": totals,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--duration", type=duration_s, default=60.0, help="how long the load runs: 90s, 10m, 1h (60s)")
    p.add_argument("--emitters", type=int, default=4, help="emitter processes (4)")
    p.add_argument("--rate", type=float, default=25.0, help="events/s per emitter (25)")
    p.add_argument("--churners", type=int, default=2, help="processes joining and leaving in a loop (2)")
    p.add_argument("--sample-sec", type=float, default=5.0, help="seconds per sampling window (5)")
    p.add_argument("--keep", action="store_true", help="keep the temp dirs (hub log, raw records)")
    p.add_argument("--live-tree", action="store_true", help="run the working tree's code, not a snapshot of it")
    p.add_argument("--table", type=Path, metavar="JSON", help="only print the table of an earlier run's JSON")
    args = p.parse_args()
    if args.table:
        print(markdown(json.loads(args.table.read_text())))
        return 0
    if not args.live_tree:
        on_a_snapshot(sys.argv[1:])
    install_cleanup()
    try:
        report = soak(args)
    finally:
        cleanup_all()
        if os.environ.get(SNAPSHOT_ENV):
            shutil.rmtree(os.environ[SNAPSHOT_ENV], ignore_errors=True)
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"soak-{dt.datetime.now().strftime('%Y-%m-%d-%H%M')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(markdown(report))
    step(f"wrote {path.relative_to(ROOT)}")
    return 1 if report["results"]["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())

"""Optional: sample the hub with py-spy during a burst (`e2e.py --profile`).

py-spy is not a project dependency; install it with `.venv/bin/pip install py-spy`.
The profiled burst is an extra one, after the measured figures, since sampling
(py-spy stops the hub briefly for each sample) costs the hub some time.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import _scenarios
from _harness import BenchEnv, spawn, stop

IDLE_LEAVES = ("EpollSelector.select (selectors.py)", "PollSelector.select (selectors.py)", "select (selectors.py)")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile_burst(env: BenchEnv, events: int, procs: int, out_dir: Path) -> dict[str, Any]:
    exe = py_spy()
    if exe is None:
        print("--profile: py-spy not found (.venv/bin/pip install py-spy); skipped", file=sys.stderr)
        return {"skipped": "py-spy not installed"}
    assert env.hub is not None
    out_dir.mkdir(parents=True, exist_ok=True)
    raw = out_dir / f"hub-burst-profile-{datetime.date.today().isoformat()}.txt"
    raw.unlink(missing_ok=True)

    @contextlib.contextmanager
    def sampling() -> Iterator[None]:
        assert env.hub is not None
        spy = _start(exe, env.hub.pid, raw)
        time.sleep(0.5)  # let py-spy attach; its idle samples are reported apart
        try:
            yield
        finally:
            _finish(spy)

    print("[e2e] profiling the hub with py-spy during an extra burst", file=sys.stderr, flush=True)
    result = _scenarios.burst(env, events, procs, around=sampling)
    summary: dict[str, Any] = summarize(raw) if raw.exists() else {"samples": 0}
    summary["deliveries_per_s_while_sampled"] = result["deliveries_per_s"]
    summary["raw_file"] = str(raw)
    return summary


def _start(exe: str, pid: int, out: Path) -> subprocess.Popen[bytes]:
    # --idle keeps the samples where the hub sleeps in select (the idle share);
    # --format raw writes collapsed stacks: "frame;frame;... count" per line.
    cmd = [exe, "record", "--pid", str(pid), "--rate", "500", "--idle", "--format", "raw", "--output", str(out)]
    return spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _finish(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        proc.wait(20)
    finally:
        stop(proc)


def summarize(raw: Path, top: int = 12) -> dict[str, Any]:
    """The share of samples idle in the selector, and for the busy samples the self
    time (innermost frame) and inclusive time per function."""
    self_time: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = idle = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_short(f) for f in stack.split(";")]
        if frames[-1] in IDLE_LEAVES:
            idle += n
            continue
        self_time[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    busy = total - idle
    if not busy:
        return {"samples": total, "idle_pct": 100.0 if total else None}

    def pct(n: int) -> float:
        return round(100 * n / busy, 1)

    return {
        "samples": total,
        "idle_pct": round(100 * idle / total, 1),
        "busy_self_pct": {f: pct(n) for f, n in self_time.most_common(top)},
        "busy_inclusive_pct": {f: pct(n) for f, n in inclusive.most_common(top + 8)},
    }


def _short(frame: str) -> str:
    """'select (selectors.py:468)' -> 'select (selectors.py)': merge a function's lines."""
    name, _, where = frame.partition(" (")
    file = where.split(":", 1)[0].rstrip(")")
    return f"{name} ({Path(file).name})" if file else name

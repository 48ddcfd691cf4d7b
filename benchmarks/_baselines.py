"""Floor measurements taken in the same run, to read the waitbus figures against:
what the kernel, SQLite and the interpreter cost on this machine right now."""

from __future__ import annotations

import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import WORKER, spawn, stop


def unix_round_trip(rounds: int = 5000) -> dict[str, Any]:
    """Ping-pong one byte over an AF_UNIX socketpair with a child process (blocking
    recv on both ends); one hop (one-way) ~ half the median round trip. Run three
    ways: unpinned (as the scheduler likes), both on one core, and on two cores (a
    cross-core wake-up, which on a VM is the expensive kind)."""
    cpus = sorted(os.sched_getaffinity(0))
    out: dict[str, Any] = {"rounds": rounds, "unpinned": _ping_pong(rounds, None)}
    out["same_core"] = _ping_pong(rounds, (cpus[0], cpus[0]))
    if len(cpus) > 1:
        out["cross_core"] = _ping_pong(rounds, (cpus[0], cpus[1]))
    return out


def _ping_pong(rounds: int, pin: tuple[int, int] | None) -> dict[str, float]:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    child = spawn(
        [sys.executable, str(WORKER), "echo", str(theirs.fileno())],
        pass_fds=[theirs.fileno()],
        stdin=subprocess.DEVNULL,
    )
    theirs.close()
    mask = os.sched_getaffinity(0)
    try:
        if pin is not None:
            os.sched_setaffinity(0, {pin[0]})
            os.sched_setaffinity(child.pid, {pin[1]})
        times = []
        for i in range(rounds + 200):
            t0 = time.perf_counter_ns()
            ours.send(b"x")
            ours.recv(1)
            if i >= 200:  # the first rounds warm the child's code path and caches
                times.append(time.perf_counter_ns() - t0)
    finally:
        os.sched_setaffinity(0, mask)
        ours.close()
        stop(child)
    rtt = statistics.median(times) / 1000
    return {"rtt_p50_us": round(rtt, 1), "one_way_us": round(rtt / 2, 1)}


def sqlite_commit(commits: int = 2000) -> dict[str, float]:
    """One small-row INSERT per transaction (BEGIN IMMEDIATE .. COMMIT) in WAL mode
    with synchronous=NORMAL: the durability emit() pays, without waitbus's schema."""
    with tempfile.TemporaryDirectory(prefix="wbb-sql-") as d:
        conn = sqlite3.connect(Path(d) / "b.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY, v TEXT NOT NULL)")
        times = []
        for i in range(commits):
            t0 = time.perf_counter_ns()
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO t (v) VALUES (?)", (f'{{"i": {i}}}',))
            conn.execute("COMMIT")
            times.append(time.perf_counter_ns() - t0)
        conn.close()
    return {"commit_p50_us": round(statistics.median(times) / 1000, 1), "commits": commits}


def python_startup(runs: int = 10) -> dict[str, float]:
    """Wall time of `python -c pass` and `python -c "import waitbus"` (medians)."""
    out = {}
    for key, code in (("pass_ms", "pass"), ("import_waitbus_ms", "import waitbus")):
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - t0)
        out[key] = round(statistics.median(times) * 1000, 1)
    out["runs"] = runs
    return out


def all_baselines() -> dict[str, dict[str, float]]:
    return {"unix_socket": unix_round_trip(), "sqlite_wal": sqlite_commit(), "python_startup": python_startup()}

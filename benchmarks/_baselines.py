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

from _harness import WORKER, proc_memory_mb, retire, spawn, stop, wait_lines


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


def python_rss() -> dict[str, float]:
    """VmRSS of a bare interpreter that has started and sits idle: what any Python
    daemon costs before it imports anything."""
    child = spawn(
        [sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        wait_lines([child], b"ready", 30)
        return proc_memory_mb(child.pid)
    finally:
        retire(child)


def all_baselines(rounds: int = 5000, commits: int = 2000) -> dict[str, dict[str, Any]]:
    """The floor: AF_UNIX one hop, one SQLite WAL commit, a bare interpreter's RSS.
    (`python -c pass` is timed with the start-up scenario, interleaved with the commands.)"""
    return {"unix_socket": unix_round_trip(rounds), "sqlite_wal": sqlite_commit(commits), "python_rss": python_rss()}

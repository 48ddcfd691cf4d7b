"""File change -> the waiting process has exited: `waitbus wait --source fs` (with a
`waitbus source fs` watcher and the hub running) against `inotifywait` (inotify-tools),
what a script would use instead.

Per round, the waiter is started and confirmed armed (the hub counts the `waitbus
wait` as a subscriber; inotifywait has printed "Watches established."), then a file is
written (open, write, close: a close-after-write, the event both report), and the
exit is taken the moment it happens (a pidfd in select). Latency = exit - the
time.time_ns() taken right before the write.
"""

from __future__ import annotations

import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from _harness import BIN, BenchEnv, retire, spawn, wait_exit
from _stats import grid_us, percentiles_us

WAIT_TIMEOUT_S = 60.0


def _write(path: Path) -> int:
    t_ns = time.time_ns()
    with open(path, "w") as fh:
        fh.write("x")
    return t_ns


def _await_stderr(proc: subprocess.Popen[bytes], token: bytes, timeout: float) -> None:
    """Read the child's stderr until a line holding `token` (its "I am armed" line)."""
    assert proc.stderr is not None
    deadline = time.monotonic() + timeout
    seen = b""
    while token not in seen:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} never said {token!r}: {seen[-500:]!r}")
        seen += proc.stderr.readline()


def inotifywait_exit(rounds: int, tmp: Path) -> dict[str, Any]:
    binary = shutil.which("inotifywait")
    if binary is None:
        return {"skipped": "inotifywait not found (tools/peers/inotify.sh)"}
    lat: list[int] = []
    printed: list[int] = []
    failed = 0
    for k in range(-1, rounds):  # k = -1 warms up
        proc = spawn([binary, "-e", "close_write", str(tmp)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        try:
            _await_stderr(proc, b"Watches established", 10)
            t_ns = _write(tmp / f"i-{k}")
            select.select([proc.stdout], [], [], WAIT_TIMEOUT_S)
            t_print = time.time_ns()
            code = wait_exit(proc, WAIT_TIMEOUT_S)
            done = time.time_ns()
        finally:
            retire(proc)
        if k >= 0:
            failed += code != 0
            lat.append(done - t_ns)
            printed.append(t_print - t_ns)
    return {
        "rounds": rounds,
        "latency_us": percentiles_us(lat),
        "dist_us": grid_us(lat),
        # When it wrote the event line, before its exit: the notification alone.
        "printed_us": percentiles_us(printed),
        "failed": failed,
    }


def _waitbus(env: BenchEnv, *args: str, stderr: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    return spawn(
        [str(BIN / "waitbus"), *args], env=env.env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
    )


def waitbus_wait_exit(rounds: int, tmp: Path, debounce: str) -> dict[str, Any]:
    """With a hub and `waitbus source fs DIR --debounce DEBOUNCE` running."""
    env = BenchEnv()
    watcher = None
    lat: list[int] = []
    failed = 0
    try:
        env.start_hub()
        watcher = _waitbus(env, "source", "fs", str(tmp), "--debounce", debounce, stderr=subprocess.PIPE)
        _await_stderr(watcher, b"watching", 30)
        base = env.hub_stats()["subscribers"]
        for k in range(-1, rounds):
            env.await_subscribers(base)
            name = f"w{debounce}-{k}"
            proc = _waitbus(env, "wait", "--source", "fs", "--match", f'fields.rel="{name}"', "--timeout", "60s")
            try:
                env.await_subscribers(base + 1)
                t_ns = _write(tmp / name)
                code = wait_exit(proc, WAIT_TIMEOUT_S)
                done = time.time_ns()
            finally:
                retire(proc)
            if k >= 0:
                failed += code != 0
                lat.append(done - t_ns)
    finally:
        if watcher is not None:
            retire(watcher)
        env.close()
    return {
        "rounds": rounds,
        "debounce": debounce,
        "latency_us": percentiles_us(lat),
        "dist_us": grid_us(lat),
        "failed": failed,
    }


def fs_exit(rounds: int) -> dict[str, Any]:
    """inotifywait, then `waitbus wait` behind a watcher with no debounce (the
    like-for-like figure) and with the default 0.2 s debounce (what a user gets)."""
    out: dict[str, Any] = {}
    for key, debounce in (("inotifywait", None), ("waitbus_debounce_0", "0"), ("waitbus_debounce_default", "0.2s")):
        with tempfile.TemporaryDirectory(prefix="wbp-fs-") as d:
            tmp = Path(d)
            out[key] = inotifywait_exit(rounds, tmp) if debounce is None else waitbus_wait_exit(rounds, tmp, debounce)
    return out

"""The wait primitive, measured from the outside: emit -> `wait_for` returns,
emit -> the `waitbus wait` process has exited, and what an idle hub and an idle
`waitbus wait` cost while nothing happens.

Each waiter is confirmed subscribed (the hub's own `stats` count) before its event
is emitted, so the figures are emit -> unblock, never process start-up; events
still leave on a fixed schedule (open loop), and how late the schedule ran is kept.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from typing import Any

from _harness import (
    BIN,
    BenchEnv,
    cpu_delta,
    finish,
    proc_cpu,
    retire,
    sleep_until,
    spawn,
    wait_exit,
    wait_lines,
    worker,
)
from _stats import grid_us, percentiles_us

import waitbus

WAIT_TIMEOUT_S = 60.0


def _match(run: str, k: int) -> list[str]:
    return [f"fields.run={json.dumps(run)}", f"fields.i={k}"]


def _emit(run: str, k: int) -> int:
    """Emit event k of `run`; return its `t_ns` (wall clock, taken right before)."""
    t_ns = time.time_ns()
    waitbus.emit("bench", "wake", fields={"run": run, "i": k, "t_ns": t_ns})
    return t_ns


def _schedule(period_s: float) -> tuple[int, int]:
    return time.perf_counter_ns() + 20_000_000, int(period_s * 1e9)


def wait_for_unblock(env: BenchEnv, events: int, period_s: float) -> dict[str, Any]:
    """One worker process calls `waitbus.wait_for(...)` once per event, each for its
    own event. Per event: the hub shows the previous subscription gone, the worker
    is told to wait, the hub shows it subscribed, then the event is emitted at its
    slot. Latency = time.time_ns() when wait_for returned (its subscription closed)
    - `t_ns` in the event. The first round (k = -1) is a warm-up."""
    run = "waitfor"
    out = env.state_dir / "waitfor.json"
    base = env.hub_stats()["subscribers"]
    proc = worker("waitfor", run, out, env=env, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    lag: list[int] = []
    try:
        wait_lines([proc], b"ready", 30)
        start, period = _schedule(period_s)
        for k in range(-1, events):
            env.await_subscribers(base)
            proc.stdin.write(f"{k}\n".encode())
            proc.stdin.flush()
            env.await_subscribers(base + 1)
            lag.append(sleep_until(start + (k + 1) * period))
            _emit(run, k)
            wait_lines([proc], f"got {k}".encode(), WAIT_TIMEOUT_S)
        proc.stdin.write(b"stop\n")
        proc.stdin.close()
        data = finish(proc, out, 30)
    finally:
        retire(proc)
    lat = data["lat_ns"][1:]
    return {
        "events": events,
        "period_s": period_s,
        "latency_us": percentiles_us(lat),
        "dist_us": grid_us(lat),
        "emitter_schedule_lag_us": percentiles_us(lag[1:]),
        "missing": events - len(lat),
    }


def waitfor_worker(run: str, out: str) -> int:
    """Worker side of wait_for_unblock(): read k from stdin, wait_for event k, say "got k"."""
    lat: list[int] = []
    print("ready", flush=True)
    while (line := sys.stdin.readline().strip()) and line != "stop":
        k = int(line)
        frame = waitbus.wait_for(_match(run, k), source="bench", timeout=WAIT_TIMEOUT_S)
        now = time.time_ns()
        if frame is None:
            print(f"timeout waiting for {k}", flush=True)
            return 1
        lat.append(now - int(frame.fields["t_ns"]))
        print(f"got {k}", flush=True)
    with open(out, "w") as fh:
        json.dump({"lat_ns": lat}, fh)
    return 0


def _start_wait(env: BenchEnv, *args: str, verb: str = "wait") -> subprocess.Popen[bytes]:
    """A `waitbus wait ARGS...` (or `waitbus on ARGS...`) process against `env`, all
    output discarded."""
    return spawn(
        [str(BIN / "waitbus"), verb, *args],
        env=env.env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def cli_wait_exit(env: BenchEnv, events: int, period_s: float, *, on: bool = False) -> dict[str, Any]:
    """One `waitbus wait --source bench --match ... --timeout 60s` process per event
    (with `on`: one `waitbus on ... -- true`, which runs `true` once and exits with its status).
    Per event: start it, wait until the hub counts it as a subscriber, emit at the
    event's slot, and take time.time_ns() the moment the process has exited (a pidfd
    in select). emit -> exit is the figure; start -> subscribed (as seen by polling
    the hub's stats every ~2 ms) is kept apart, and their sum is what a script pays
    for "start a wait, the event comes at once, the wait returns". k = -1 warms up."""
    run = "clion" if on else "cliwait"
    command = ["--", shutil.which("true") or "true"] if on else []
    base = env.hub_stats()["subscribers"]
    to_exit: list[int] = []
    to_subscribed: list[int] = []
    lag: list[int] = []
    failed = 0
    start, period = _schedule(period_s)
    for k in range(-1, events):
        env.await_subscribers(base)
        matches = [a for m in _match(run, k) for a in ("--match", m)]
        t_spawn = time.time_ns()
        args = ["--source", "bench", *matches, "--timeout", f"{WAIT_TIMEOUT_S:g}s", *command]
        proc = _start_wait(env, *args, verb="on" if on else "wait")
        try:
            env.await_subscribers(base + 1)
            t_sub = time.time_ns()
            lag.append(sleep_until(start + (k + 1) * period))
            t_emit = _emit(run, k)
            code = wait_exit(proc, WAIT_TIMEOUT_S)
            t_exit = time.time_ns()
        finally:
            retire(proc)
        if k < 0:
            continue
        failed += code != 0
        to_exit.append(t_exit - t_emit)
        to_subscribed.append(t_sub - t_spawn)
    exit_us, sub_us = percentiles_us(to_exit), percentiles_us(to_subscribed)
    return {
        "events": events,
        "period_s": period_s,
        "latency_us": exit_us,
        "dist_us": grid_us(to_exit),
        "start_to_subscribed_us": sub_us,
        "start_emit_exit_p50_ms": round((exit_us["p50"] + sub_us["p50"]) / 1000, 1),
        "emitter_schedule_lag_us": percentiles_us(lag[1:]),
        "failed": failed,
    }


def idle_cpu(env: BenchEnv, window_s: float) -> dict[str, Any]:
    """CPU and wake-ups of the hub and of a `waitbus wait` blocked on an event that
    never comes, over `window_s` seconds in which nothing is emitted (the waiter is
    confirmed subscribed and given 0.5 s to settle first). No polling means ~0
    ticks and ~0 wake-ups; the hub's heartbeat (every 60 s by default) is the only
    scheduled wake."""
    assert env.hub is not None
    base = env.hub_stats()["subscribers"]
    proc = _start_wait(env, "--source", "bench-never", "--timeout", "1h")
    try:
        env.await_subscribers(base + 1)
        time.sleep(0.5)
        t0, hub0, wait0 = time.perf_counter(), proc_cpu(env.hub.pid), proc_cpu(proc.pid)
        time.sleep(window_s)
        t1, hub1, wait1 = time.perf_counter(), proc_cpu(env.hub.pid), proc_cpu(proc.pid)
        still_waiting = proc.poll() is None
    finally:
        retire(proc)
    return {
        "window_s": window_s,
        "hub": cpu_delta(hub0, hub1, t1 - t0),
        "waitbus_wait": cpu_delta(wait0, wait1, t1 - t0),
        "waiter_alive_at_end": still_waiting,
    }

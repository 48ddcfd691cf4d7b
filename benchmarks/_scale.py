"""How cost grows with log size, event size and subscriber count (issue #18, item 4):

- emit() per call and the hub's idle RSS with an empty log, then with `rows` rows
  (the hub restarted on the full log);
- replay of all `rows` events from a cursor (raw socket, SDK, the bare SQLite scan);
- emit() per call by event size (the fields padded to 100 B ... 32 KB);
- `subs` connected subscribers, held as raw sockets by one worker process: the hub's
  idle CPU and RSS with them connected, and per event the time from emit to the first
  and to the last of them having it (events paced apart, so each fan-out is alone).
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

from _harness import BenchEnv, cpu_delta, finish, proc_cpu, retire, scratch_env, sleep_until, wait_lines, worker
from _scenarios import emit_cost, hub_idle_rss
from _stats import percentiles_us
from _throughput import _raw_replay, _sdk_replay, _sqlite_scan, _timed

import waitbus

SIZES = (100, 1_000, 10_000, 32_000)  # bytes of padding in the event's fields


def _log_point(env: BenchEnv, runs: int, calls: int, label: str) -> dict[str, Any]:
    env.start_hub()
    out = {"hub_rss": hub_idle_rss(env), "emit": emit_cost(runs, calls, label)}
    out["hub_rss_after_emits"] = env.hub_memory_mb()
    out["db_mb"] = round(sum(p.stat().st_size for p in env.state_dir.glob("events.db*")) / 1e6, 1)
    return out


def _by_size(calls: int) -> list[dict[str, Any]]:
    out = []
    for size in SIZES:
        pad = "x" * size
        waitbus.emit("bench", "size-warm", fields={"pad": pad})
        t0 = time.perf_counter_ns()
        for i in range(calls):
            waitbus.emit("bench", "size", fields={"i": i, "pad": pad})
        out.append({"bytes": size, "per_call_us": round((time.perf_counter_ns() - t0) / calls / 1000, 1)})
    return out


def many_subscribers(env: BenchEnv, subs: int, events: int, idle_s: float) -> dict[str, Any]:
    """`subs` raw-socket subscribers in one worker; idle window, then `events` events
    10 ms apart (plus 100 ms between, so each fan-out ends before the next starts)."""
    assert env.hub is not None
    run = f"many-{subs}"
    out_file = env.state_dir / f"{run}.json"
    base = env.hub_stats()["subscribers"]
    proc = worker("many", env.socket_path, subs, run, out_file, env=env)
    try:
        wait_lines([proc], b"ready", 120)
        env.await_subscribers(base + subs, timeout=120)
        time.sleep(0.5)
        t0, hub0 = time.perf_counter(), proc_cpu(env.hub.pid)
        time.sleep(idle_s)
        idle = cpu_delta(hub0, proc_cpu(env.hub.pid), time.perf_counter() - t0)
        rss_idle = env.hub_memory_mb()
        hub0, t0 = proc_cpu(env.hub.pid), time.perf_counter()
        t_emit: list[int] = []
        start = time.perf_counter_ns() + 5_000_000
        for i in range(events):
            sleep_until(start + i * 100_000_000)
            t = time.time_ns()
            waitbus.emit("bench", "many", fields={"run": run, "i": i, "t_ns": t})
            t_emit.append(t)
        time.sleep(0.5)
        busy = cpu_delta(hub0, proc_cpu(env.hub.pid), time.perf_counter() - t0)
        waitbus.emit("bench", "many", fields={"run": run, "done": True, "count": events})
        data = finish(proc, out_file, 120)
    finally:
        retire(proc)
    first = [data["first_ns"][i] - t_emit[i] for i in range(events) if data["first_ns"][i]]
    last = [data["last_ns"][i] - t_emit[i] for i in range(events) if data["last_ns"][i]]
    return {
        "subscribers": subs,
        "events": events,
        "hub_idle": idle,
        "hub_rss_idle": rss_idle,
        "hub_rss_after": env.hub_memory_mb(),
        "emit_to_first_us": percentiles_us(first),
        "emit_to_last_us": percentiles_us(last),
        "hub_cpu_us_per_event": round(busy["cpu_ms"] * 1000 / events, 1),
        "missing_deliveries": events * subs - sum(data["received"]),
    }


def many_worker(path: str, subs: int, run: str, out: str) -> int:
    """Worker side: `subs` sockets, each subscribed; per event index the first and
    last receipt time over all sockets; ends when every socket had `done`."""
    import selectors
    import socket

    import msgspec

    from waitbus_wire import FrameDecoder, Subscribe, encode_frame, encode_message

    class Frame(msgspec.Struct):
        kind: str
        fields: dict[str, Any] = {}

    decode = msgspec.json.Decoder(Frame).decode
    hello = encode_frame(encode_message(Subscribe()))
    sel = selectors.DefaultSelector()
    socks = []
    for n in range(subs):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        s.sendall(hello)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, (n, FrameDecoder()))
        socks.append(s)
    print("ready", flush=True)
    first: dict[int, int] = {}
    last: dict[int, int] = {}
    received = [0] * subs
    count = -1
    open_socks = subs
    while open_socks:
        ready = sel.select(120)
        if not ready:
            break
        now = time.time_ns()
        for key, _ in ready:
            n, dec = key.data
            data = key.fileobj.recv(262144)  # type: ignore[union-attr]
            for body in dec.feed(data):
                f = decode(body)
                if f.kind != "event" or f.fields.get("run") != run:
                    continue
                if f.fields.get("done"):
                    count = f.fields["count"]
                    sel.unregister(key.fileobj)
                    open_socks -= 1
                    continue
                i = f.fields["i"]
                received[n] += 1
                first.setdefault(i, now)
                last[i] = now
    for s in socks:
        s.close()
    with open(out, "w") as fh:
        json.dump(
            {
                "first_ns": [first.get(i, 0) for i in range(max(count, 0))],
                "last_ns": [last.get(i, 0) for i in range(max(count, 0))],
                "received": received,
            },
            fh,
        )
    return 0


def scale(rows: int, emit_runs: int, emit_calls: int, subs: int, fanout_events: int, idle_s: float) -> dict[str, Any]:
    """Every figure above, in a private store and hub of its own."""
    with scratch_env() as env:
        out: dict[str, Any] = {"rows": rows, "log_empty": _log_point(env, emit_runs, emit_calls, "scale-empty")}
        env.stop_hub()
        marker = waitbus.emit("bench", "scale-marker").event_id
        t0 = time.perf_counter()
        for i in range(rows):
            waitbus.emit("bench", "scale", fields={"i": i, "pad": "x" * 40})
        out["populate_emits_per_s_no_hub"] = round(rows / (time.perf_counter() - t0))
        out["log_full"] = _log_point(env, emit_runs, emit_calls, "scale-full")
        # Single calls' p50: a preempted call moves a mean on a shared box, not the median.
        out["emit_full_over_empty"] = round(
            out["log_full"]["emit"]["single_call_us"]["p50"] / out["log_empty"]["emit"]["single_call_us"]["p50"], 2
        )
        out["hub_rss_full_over_empty"] = round(
            out["log_full"]["hub_rss"]["VmRSS"] / out["log_empty"]["hub_rss"]["VmRSS"], 2
        )
        scan = _timed(0, lambda: _sqlite_scan(env, marker))
        total = scan["received"]  # the rows, and the emit-cost runs after them
        out["replay"] = {
            "events": total,
            "sqlite_scan": {**scan, "lost": 0},
            "raw_client": _timed(total, lambda: _raw_replay(env, marker, total)),
            "sdk_subscribe": _timed(total, lambda: _sdk_replay(marker, total)),
            "hub_rss_after": env.hub_memory_mb(),
        }
        out["event_size"] = _by_size(max(50, emit_calls // 4))
        out["many"] = many_subscribers(env, subs, fanout_events, idle_s)
        out["load_cores_busy_at_end"] = round(os.getloadavg()[0], 2)
    return out

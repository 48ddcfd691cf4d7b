"""Throughput: emit() calls per second from 1 and from N producer processes, and
replay speed from a cursor over a large stored log."""

from __future__ import annotations

import json
import resource
import sqlite3
import subprocess
import sys
import time
from typing import Any

import msgspec
from _harness import BenchEnv, finish, retire, scratch_env, wait_lines, worker

import waitbus
from waitbus_wire import FrameDecoder, Subscribe, encode_frame, encode_message


def producers(env: BenchEnv, procs: int, per_proc: int) -> dict[str, Any]:
    """`procs` processes, each emitting `per_proc` events back to back, started
    together (each has opened the store with one warm-up emit, then waits for "go").
    Rate = all events / (earliest first emit -> latest last emit). The hub runs
    (and reads every row); the log is then counted: `lost` = emitted - stored."""
    run = f"tput-{procs}"
    outs = [env.state_dir / f"{run}-{p}.json" for p in range(procs)]
    workers = [worker("produce", run, p, per_proc, out, env=env, stdin=subprocess.PIPE) for p, out in enumerate(outs)]
    try:
        wait_lines(workers, b"ready", 60)
        for w in workers:
            assert w.stdin is not None
            w.stdin.write(b"go\n")
            w.stdin.flush()
        results = [finish(w, out, 300) for w, out in zip(workers, outs, strict=True)]
    finally:
        for w in workers:
            retire(w)
    span_s = (max(r["t_last_ns"] for r in results) - min(r["t_first_ns"] for r in results)) / 1e9
    total = procs * per_proc
    stored = _count_stored(env, run)
    return {
        "processes": procs,
        "events_per_process": per_proc,
        "span_s": round(span_s, 3),
        "emits_per_s": round(total / span_s),
        "per_process_emits_per_s": [round(per_proc / ((r["t_last_ns"] - r["t_first_ns"]) / 1e9)) for r in results],
        "producer_cpu_us_per_emit": round(sum(r["cpu_s"] for r in results) / total * 1e6, 1),
        "stored": stored,
        "lost": total - stored,
    }


def _count_stored(env: BenchEnv, run: str) -> int:
    conn = sqlite3.connect(env.state_dir / "events.db")
    try:
        row = conn.execute(
            "SELECT COUNT(*) FROM events WHERE source = 'bench' AND event_type = 'tput'"
            " AND json_extract(fields, '$.run') = ?",
            (run,),
        ).fetchone()
    finally:
        conn.close()
    return int(row[0])


def produce_worker(run: str, p: int, n: int, out: str) -> int:
    """Worker side of producers(): warm up, say "ready", wait for "go", emit n events."""
    waitbus.emit("bench", "tput-warm", fields={"run": run, "p": p})
    print("ready", flush=True)
    sys.stdin.readline()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t_first = time.time_ns()
    for i in range(n):
        waitbus.emit("bench", "tput", fields={"run": run, "p": p, "i": i})
    t_last = time.time_ns()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime
    with open(out, "w") as fh:
        json.dump({"t_first_ns": t_first, "t_last_ns": t_last, "cpu_s": cpu_s}, fh)
    return 0


# -- replay ---------------------------------------------------------------------------


def replay(events: int) -> dict[str, Any]:
    """Replay from a cursor over `events` stored events, in a fresh store: a marker
    event, then `events` events emitted with no hub running (that emit rate is kept
    too), then a hub is started and three readers go from the marker to the end:
    - SQLite: one SELECT of the same rows on a plain connection (the floor);
    - raw: a socket client that subscribes with `since` and only counts frames
      (the hub's replay speed);
    - SDK: `waitbus.subscribe(since=marker)`, each frame decoded and matched.
    Each gives events/s and the time from subscribe to the last replayed event."""
    with scratch_env() as env:
        marker = waitbus.emit("bench", "replay-marker").event_id
        t0 = time.perf_counter()
        for i in range(events):
            waitbus.emit("bench", "replay", fields={"i": i, "pad": "x" * 40})
        populate_s = time.perf_counter() - t0
        env.start_hub()
        out: dict[str, Any] = {
            "events": events,
            "populate_emits_per_s_no_hub": round(events / populate_s),
            "sqlite_scan": _timed(events, lambda: _sqlite_scan(env, marker)),
            "raw_client": _timed(events, lambda: _raw_replay(env, marker, events)),
            "sdk_subscribe": _timed(events, lambda: _sdk_replay(marker, events)),
        }
        out["hub_memory_after"] = env.hub_memory_mb()
    return out


def _timed(events: int, read: Any) -> dict[str, Any]:
    t0 = time.perf_counter()
    got = read()
    secs = time.perf_counter() - t0
    return {"caught_up_s": round(secs, 3), "events_per_s": round(got / secs), "received": got, "lost": events - got}


def _sqlite_scan(env: BenchEnv, marker: str) -> int:
    conn = sqlite3.connect(env.state_dir / "events.db")
    try:
        seq = conn.execute("SELECT seq FROM events WHERE event_id = ?", (marker,)).fetchone()[0]
        rows = conn.execute(
            "SELECT seq, event_id, source, event_type, delivery_id, owner, repo, received_at, summary, fields"
            " FROM events WHERE seq > ? ORDER BY seq",
            (seq,),
        ).fetchall()
    finally:
        conn.close()
    return len(rows)


class _Kind(msgspec.Struct):
    kind: str


def _raw_replay(env: BenchEnv, marker: str, events: int) -> int:
    import socket

    decode = msgspec.json.Decoder(_Kind).decode
    dec = FrameDecoder()
    got = 0
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(60)
        s.connect(env.socket_path)
        s.sendall(encode_frame(encode_message(Subscribe(since=marker))))
        while got < events:
            data = s.recv(262144)
            if not data:
                break
            got += sum(1 for body in dec.feed(data) if decode(body).kind == "event")
    return got


def _sdk_replay(marker: str, events: int) -> int:
    got = 0
    with waitbus.subscribe(source="bench", since=marker) as sub:
        while got < events and sub.get(60) is not None:
            got += 1
    return got

"""Load processes for the soak run (started by run.py as scripts; importable for the
constants). Each role runs until SIGTERM (or, for `sub`, the run's `done` event)
and then writes one JSON record to OUT.

_load.py emit IDX RATE RUN OUT    paced emitter: RATE events/s, sizes and sources varied
_load.py sub NAME MODE RUN OUT    persistent subscriber (MODE all | where | source); records
                                  every (emitter, i) it receives and its latency
_load.py churn IDX RUN OUT        subscribers joining and leaving in a loop: live, replay
                                  from a cursor, leave mid-replay, `where`, a stalled
                                  reader, a half-sent subscribe frame
"""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waitbus import Subscription

SOURCES = ("soak-a", "soak-b", "soak-c")
EVENT_TYPE = "soak"
# Field padding: mostly small events, some medium, a few near the 48 KiB fields cap.
SIZES = ((0.70, 0, 200), (0.25, 500, 4000), (0.05, 20000, 45000))
IDLE_TIMEOUT_S = 120.0  # a persistent subscriber gives up after this much silence
# How long a stalled (never-reading) churn subscriber holds its socket: at the default
# load (~250 KB/s) long enough to pass the hub's 8 MiB lag limit and be evicted.
STALL_S = 45.0

_STOP = threading.Event()


def _on_term(_signum: int, _frame: object) -> None:
    _STOP.set()


def source_of(emitter: int, i: int) -> str:
    """Each emitter rotates over the sources, so a source filter sees every emitter."""
    return SOURCES[(emitter + i) % len(SOURCES)]


def done_fields(run: str) -> dict[str, Any]:
    """The end-of-run marker. It matches every persistent subscriber's filter
    (e=0, source soak-b), so each one learns the run is over."""
    return {"run": run, "done": True, "e": 0, "i": -1}


def _pad(rng: random.Random) -> str:
    roll = rng.random()
    for share, low, high in SIZES:
        if roll < share:
            return "x" * rng.randint(low, high)
        roll -= share
    return ""


def _write(out: str, record: dict[str, Any]) -> None:
    tmp = Path(out + ".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(out)


# -- emit ------------------------------------------------------------------------------


def run_emitter(idx: int, rate: float, run: str, out: str) -> int:
    """Open loop: event k leaves at t0 + k/rate whatever happened to event k-1."""
    import waitbus

    rng = random.Random(idx)
    period_ns = 1e9 / rate
    start = time.perf_counter_ns()
    count, failed, call_ns, sizes = 0, [], [], [0, 0, 0]
    while not _STOP.is_set():
        due = start + int(count * period_ns)
        ahead = due - time.perf_counter_ns()
        if ahead > 0 and _STOP.wait(ahead / 1e9):
            break
        pad = _pad(rng)
        sizes[0 if len(pad) <= 200 else 1 if len(pad) <= 4000 else 2] += 1
        fields = {"run": run, "e": idx, "i": count, "t_ns": time.time_ns(), "pad": pad}
        t0 = time.perf_counter_ns()
        try:
            waitbus.emit(source_of(idx, count), EVENT_TYPE, fields=fields)
        except Exception as exc:  # counted, not fatal: the checker leaves it out of "expected"
            failed.append([count, repr(exc)[:200]])
        call_ns.append(time.perf_counter_ns() - t0)
        count += 1
    call_ns.sort()
    _write(
        out,
        {
            "emitter": idx,
            "count": count,
            "failed": failed,
            "sizes": dict(zip(("small", "medium", "large"), sizes, strict=True)),
            "emit_us_p50": round(call_ns[len(call_ns) // 2] / 1000, 1) if call_ns else None,
            "emit_us_p99": round(call_ns[int(len(call_ns) * 0.99)] / 1000, 1) if call_ns else None,
        },
    )
    return 0


# -- persistent subscriber ----------------------------------------------------------------


def _open(mode: str, since: str | None = None) -> Subscription:
    import waitbus

    match = "fields.e=0" if mode == "where" else None  # a hub-side `where`
    source = SOURCES[1] if mode == "source" else None
    return waitbus.subscribe(match, source=source, since=since)


def run_subscriber(name: str, mode: str, run: str, out: str) -> int:
    from waitbus import HubUnavailable

    sub = _open(mode)
    print("ready", flush=True)
    seen: list[list[int]] = []
    lat: list[int] = []
    recv: list[int] = []
    reconnect_failures = 0
    ended = "done"
    while True:
        try:
            frame = sub.get(IDLE_TIMEOUT_S)
        except HubUnavailable:
            # The SDK gave up reconnecting (30 s); resume from its cursor ourselves.
            reconnect_failures += 1
            cursor = sub.cursor
            sub.close()
            time.sleep(1.0)
            sub = _resume(mode, cursor)
            continue
        now = time.time_ns()
        if frame is None:
            ended = "idle_timeout"
            break
        f = frame.fields
        if f.get("run") != run:
            continue
        if f.get("done"):
            break
        seen.append([f["e"], f["i"]])
        lat.append(now - f["t_ns"])
        recv.append(now)
    sub.close()
    _write(
        out,
        {
            "name": name,
            "mode": mode,
            "ended": ended,
            "reconnect_failures": reconnect_failures,
            "seen": seen,
            "lat_ns": lat,
            "recv_ns": recv,
        },
    )
    return 0


def _resume(mode: str, cursor: str | None) -> Subscription:
    from waitbus import HubUnavailable

    while True:
        try:
            return _open(mode, cursor)
        except HubUnavailable:
            time.sleep(1.0)


# -- churn -------------------------------------------------------------------------------

CHURN_MODES = (("live", 35), ("replay", 25), ("leave_mid_replay", 15), ("where", 15), ("half_frame", 7), ("stall", 3))


def _socket_path() -> str:
    return str(Path(os.environ["WAITBUS_RUNTIME_DIR"]) / "broadcast.sock")


class _Stalled:
    """A raw subscriber that never reads: the hub must evict it (or bound it) by bytes."""

    def __init__(self) -> None:
        from waitbus_wire import Subscribe, encode_frame, encode_message

        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self.sock.connect(_socket_path())
        self.sock.sendall(encode_frame(encode_message(Subscribe())))
        self.until = time.monotonic() + STALL_S


def _session(mode: str, rng: random.Random, counts: dict[str, Any]) -> None:
    """One subscriber's whole life: join, read a little (or not at all), leave."""
    import waitbus

    if mode == "half_frame":
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(_socket_path())
            s.sendall(struct.pack(">I", 40) + b'{"filte')  # header + part of the body, then gone
        return
    if mode == "replay":
        sub = waitbus.subscribe(since=rng.uniform(1, 120))
        budget, frames = rng.uniform(0.1, 1.0), 10**9
    elif mode == "leave_mid_replay":
        sub = waitbus.subscribe(since=600)  # a long backlog; we leave after a few frames
        budget, frames = 5.0, rng.randint(1, 50)
    elif mode == "where":
        sub = waitbus.subscribe(f"fields.e={rng.randint(0, 3)}")
        budget, frames = rng.uniform(0.1, 1.0), 10**9
    else:
        sub = waitbus.subscribe()
        budget, frames = rng.uniform(0.05, 1.0), 10**9
    deadline = time.monotonic() + budget
    got = 0
    try:
        while got < frames and not _STOP.is_set():
            left = deadline - time.monotonic()
            if left <= 0 or sub.get(left) is None:
                break
            got += 1
    finally:
        sub.close()
    counts["frames"] += got


def run_churn(idx: int, run: str, out: str) -> int:
    from waitbus import HubUnavailable

    rng = random.Random(1000 + idx)
    names = [m for m, _ in CHURN_MODES]
    weights = [w for _, w in CHURN_MODES]
    counts: dict[str, Any] = {"sessions": dict.fromkeys(names, 0), "frames": 0, "hub_unavailable": 0, "errors": []}
    stalled: _Stalled | None = None
    while not _STOP.is_set():
        if stalled is not None and time.monotonic() >= stalled.until:
            stalled.sock.close()
            stalled = None
        mode = rng.choices(names, weights)[0]
        if mode == "stall" and stalled is not None:
            continue
        try:
            if mode == "stall":
                stalled = _Stalled()
            else:
                _session(mode, rng, counts)
        except (HubUnavailable, ConnectionError, FileNotFoundError):
            counts["hub_unavailable"] += 1  # the hub is restarting: try again shortly
            time.sleep(0.2)
            continue
        except Exception as exc:
            counts["errors"].append(repr(exc)[:200])
            time.sleep(0.2)
            continue
        counts["sessions"][mode] += 1
    if stalled is not None:
        stalled.sock.close()
    _write(out, {"churner": idx, **counts})
    return 0


def main(argv: list[str]) -> int:
    role = argv[:1]
    if role != ["sub"]:
        # Emitters and churners finish their loop and write their record; a
        # persistent subscriber ends on the run's `done` event (SIGTERM kills it).
        signal.signal(signal.SIGTERM, _on_term)
        signal.signal(signal.SIGINT, _on_term)
    if role == ["emit"] and len(argv) == 5:
        return run_emitter(int(argv[1]), float(argv[2]), argv[3], argv[4])
    if role == ["sub"] and len(argv) == 5:
        return run_subscriber(argv[1], argv[2], argv[3], argv[4])
    if role == ["churn"] and len(argv) == 4:
        return run_churn(int(argv[1]), argv[2], argv[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

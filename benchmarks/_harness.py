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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
WORKER = HERE / "_worker.py"
BIN = Path(sys.executable).parent  # the venv's console scripts: waitbus, waitbus-mcp

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


def retire(proc: subprocess.Popen[bytes]) -> int | None:
    """stop() a tracked child and forget it."""
    code = stop(proc)
    if proc in _procs:
        _procs.remove(proc)
    return code


def finish(proc: subprocess.Popen[bytes], out: Path, timeout: float) -> dict[str, Any]:
    """Wait for a worker to exit 0 and return the JSON it wrote to `out`."""
    import json

    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"worker {proc.pid} did not finish in {timeout:.0f}s") from None
    finally:
        retire(proc)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {proc.pid} exited {proc.returncode}")
    data: dict[str, Any] = json.loads(out.read_text())
    return data


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


def sleep_until(due_ns: int) -> int:
    """Sleep until time.perf_counter_ns() reaches `due_ns` (an open-loop schedule's
    next slot); return how late we are past it, in ns (0 if on time)."""
    ahead = due_ns - time.perf_counter_ns()
    if ahead > 0:
        time.sleep(ahead / 1e9)
    return max(0, time.perf_counter_ns() - due_ns)


def wait_exit(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait for a child's exit and wake the moment it happens: a pidfd in select().
    (Popen.wait(timeout) polls with sleeps of up to 50 ms, which would be measured.)"""
    fd = os.pidfd_open(proc.pid)
    try:
        ready, _, _ = select.select([fd], [], [], timeout)
    finally:
        os.close(fd)
    if not ready:
        raise RuntimeError(f"process {proc.pid} ({proc.args!r}) still running after {timeout}s")
    return proc.wait()


def proc_memory_mb(pid: int) -> dict[str, float]:
    """VmRSS and VmHWM (peak RSS) of a process, in MB (10^6 bytes)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = round(int(rest.split()[0]) * 1024 / 1e6, 2)
    return out


def proc_cpu(pid: int) -> dict[str, Any]:
    """CPU used so far by a process (all threads): clock ticks (utime+stime, the
    kernel's 10 ms accounting), seconds, and voluntary context switches summed over
    its threads, i.e. how often it went to sleep and was woken (a poller's count
    grows with time; a true waiter's does not)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    utime, stime = int(fields[11]), int(fields[12])
    wakeups = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith("voluntary_ctxt_switches:"):
                    wakeups += int(line.split()[1])
        except OSError:
            continue  # a thread that just ended
    return {"ticks": utime + stime, "user_s": utime / tick, "sys_s": stime / tick, "wakeups": wakeups}


def cpu_delta(before: dict[str, Any], after: dict[str, Any], window_s: float) -> dict[str, Any]:
    """What a process used between two proc_cpu() samples `window_s` apart."""
    cpu_s = after["user_s"] + after["sys_s"] - before["user_s"] - before["sys_s"]
    return {
        "window_s": round(window_s, 2),
        "ticks": after["ticks"] - before["ticks"],
        "cpu_ms": round(cpu_s * 1000, 1),
        "cpu_ms_per_min": round(cpu_s * 1000 * 60 / window_s, 1),
        "wakeups": after["wakeups"] - before["wakeups"],
        "wakeups_per_min": round((after["wakeups"] - before["wakeups"]) * 60 / window_s, 1),
    }


def wait_lines(procs: list[subprocess.Popen[bytes]], token: bytes, timeout: float) -> None:
    """Block until every process has written a whole line containing `token` on
    stdout (each worker writes one line per request, maybe in pieces when unbuffered)."""
    deadline = time.monotonic() + timeout
    waiting = {p.stdout.fileno(): p for p in procs if p.stdout is not None}
    partial = dict.fromkeys(waiting, b"")
    while waiting:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"{len(waiting)} worker(s) did not say {token!r} within {timeout}s")
        ready, _, _ = select.select(list(waiting), [], [], left)
        for fd in ready:
            chunk = os.read(fd, 256)
            partial[fd] += chunk
            if chunk and not partial[fd].endswith(b"\n"):
                continue
            if token not in partial[fd]:
                p = waiting[fd]
                raise RuntimeError(f"worker {p.pid} failed (exit {p.poll()}): {partial[fd]!r}")
            del waiting[fd]


def worker(mode: str, *args: object, env: BenchEnv, stdin: int | None = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """Start `_worker.py MODE ARGS...` against `env`, stdout piped for its "ready" line."""
    return spawn(
        [sys.executable, str(WORKER), mode, *map(str, args)],
        env=env.env(),
        stdin=stdin,
        stdout=subprocess.PIPE,
    )


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
        retire(self.hub)
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
        return proc_memory_mb(self.hub.pid)

    def hub_cpu_s(self) -> tuple[float, float]:
        """(user, system) CPU seconds the hub has used so far (10 ms resolution)."""
        assert self.hub is not None
        cpu = proc_cpu(self.hub.pid)
        return cpu["user_s"], cpu["sys_s"]

    def hub_stats(self) -> dict[str, Any]:
        """The hub's own counters, via the `op: stats` subscribe extension."""
        from waitbus._hubinfo import hub_stats

        stats, why = hub_stats(Path(self.socket_path))
        if stats is None:
            raise RuntimeError(f"hub stats: {why}")
        return {f: getattr(stats, f) for f in stats.__struct_fields__}

    def await_subscribers(self, count: int, timeout: float = 30.0) -> None:
        """Block until the hub reports exactly `count` subscribers: the barrier that
        makes "subscribed before the emit" a fact, not a hope."""
        deadline = time.monotonic() + timeout
        while (seen := self.hub_stats()["subscribers"]) != count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"hub has {seen} subscribers, expected {count}, after {timeout}s")
            time.sleep(0.002)  # harness barrier, outside every measured interval

    def close(self) -> None:
        self.stop_hub()
        if not self.keep:
            shutil.rmtree(self.state_dir, ignore_errors=True)
            shutil.rmtree(self.runtime_dir, ignore_errors=True)


@contextlib.contextmanager
def scratch_env() -> Iterator[BenchEnv]:
    """A second, private pair of dirs (no hub yet), active in this process for the
    block: emit() and subscribe() here go to it, and the old env comes back after."""
    other = BenchEnv()
    saved = {k: v for k, v in os.environ.items() if k.startswith("WAITBUS_")}
    try:
        other.activate()
        yield other
    finally:
        os.environ.update(saved)
        other.close()


class SubscriberPool:
    """`procs` worker processes, each holding `per_proc` subscriptions (one thread
    each); they say "ready" once every subscription is acked by the hub, and write
    their measurements to a JSON file when the run's `done` event arrives."""

    def __init__(self, env: BenchEnv, run: str, procs: int, per_proc: int) -> None:
        self.cpu_user_s = self.cpu_sys_s = 0.0  # summed over workers, from "ready" to exit
        self.files = [env.state_dir / f"{run}-{i}.json" for i in range(procs)]
        self.procs = [worker("sub", run, per_proc, out, env=env) for out in self.files]

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_lines(self.procs, b"ready", timeout)

    def collect(self, timeout: float = 120.0) -> list[dict[str, Any]]:
        """Every subscription's record, after all workers exit."""
        deadline = time.monotonic() + timeout
        out: list[dict[str, Any]] = []
        self.cpu_user_s = self.cpu_sys_s = 0.0
        for p, path in zip(self.procs, self.files, strict=True):
            data = finish(p, path, max(0.1, deadline - time.monotonic()))
            out.extend(data["subs"])
            self.cpu_user_s += data["cpu_user_s"]
            self.cpu_sys_s += data["cpu_sys_s"]
        return out

    def close(self) -> None:
        for p in self.procs:
            retire(p)

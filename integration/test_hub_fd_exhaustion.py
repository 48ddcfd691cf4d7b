"""A hub out of file descriptors (SECURITY.md: "fd exhaustion"): a real hub under a low
RLIMIT_NOFILE, filled with subscribers by the same uid. It used to spin a core on
the ever-readable listening socket and write "accept failed" at ~5 MB/s into its
unbounded log. Now it pauses accepting, says so once, keeps serving the subscribers
it has, and accepts again by itself when fds come back."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._support import wait_until
from waitbus import emit
from waitbus_wire import encode_frame

FD_LIMIT = 64
FLOOD = 120  # connections: more than the hub has fds for, fewer than its backlog (512)

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads CPU time from /proc")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _log_bytes(log_path: Path) -> int:
    """The log and its rotated copies: a rotation must not look like shrinking."""
    return sum(p.stat().st_size for p in log_path.parent.glob(log_path.name + "*"))


def _limit_fds() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT))


@pytest.mark.timeout(120)
def test_out_of_fds_the_hub_pauses_accept_serves_its_subscribers_and_recovers(waitbus_env, tmp_path, raw_client, reap):
    log_path = tmp_path / "hub.log"
    hub = reap(
        subprocess.Popen(
            [sys.executable, "-m", "waitbus_hub", "--heartbeat-sec", "1"],
            env={**os.environ, "WAITBUS_LOG_FILE": str(log_path)},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_limit_fds,
        )
    )
    sock_path = Path(waitbus_env["WAITBUS_RUNTIME_DIR"]) / "broadcast.sock"
    wait_until(sock_path.exists, "the hub's socket", 20)
    normal = raw_client()
    normal.subscribe()

    flood: list[socket.socket] = []
    try:
        for _ in range(FLOOD):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(str(sock_path))
            s.sendall(encode_frame(b"{}"))  # a valid subscribe: each one holds a hub fd for good
            flood.append(s)
        wait_until(lambda: "Too many open files" in log_path.read_text(errors="replace"), "EMFILE in the log")

        cpu0, size0, t0 = _cpu_seconds(hub.pid), _log_bytes(log_path), time.monotonic()
        time.sleep(1.0)
        sent = emit("agent", "while_full", fields={"n": 1}).event_id
        got = normal.events(1, timeout=10)
        time.sleep(2.0)
        cpu1, size1, t1 = _cpu_seconds(hub.pid), _log_bytes(log_path), time.monotonic()
        cpu, grew, span = cpu1 - cpu0, size1 - size0, t1 - t0
        print(f"\nout of fds for {span:.1f} s: hub CPU {cpu:.3f} s, log grew {grew} bytes")
        assert hub.poll() is None, "the hub died"
        # The old loop burnt the whole span (~100% of a core) and megabytes of log.
        assert cpu < 0.1 * span, f"the hub used {cpu:.2f} s of CPU in {span:.1f} s while out of fds"
        assert grew < 2048 and not Path(f"{log_path}.1").exists(), f"the log grew {grew} bytes in {span:.1f} s"
        assert [f["event_id"] for f in got] == [sent], "a connected subscriber stopped hearing events"
    finally:
        for s in flood:
            s.close()

    # Descriptors are back: a new client is accepted without anyone restarting the hub.
    def accepted() -> bool:
        try:
            client = raw_client()
            client.subscribe()
        except (OSError, AssertionError):
            return False
        return True

    wait_until(accepted, "a new subscriber accepted after the flood closed")
    assert "accepting new clients again" in log_path.read_text()

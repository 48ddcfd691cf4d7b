"""The hub's metrics port is loopback TCP, which every local user can reach: another
user must not be able to load the hub through it (SECURITY.md, "Exhaustion").

The attacker runs as a throwaway user (`nobody`) in a forked child, as in
test_runtime_dir_trust.py. prometheus_client's start_http_server, which the hub used,
spawned a thread per connection and never timed one out: 300 idle connections put 300
threads and 300 descriptors into the hub, and a few more hundred would have left it no
descriptor to accept a subscriber with.
"""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from pathlib import Path

import pytest

from tests._support import free_port, wait_until
from tests._support.attacker import hold_connections_as_nobody
from waitbus import emit

CONNECTIONS = 300

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user (nobody)"),
    pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts the hub's threads and fds in /proc"),
]


def _threads_and_fds(pid: int) -> tuple[int, int]:
    return len(os.listdir(f"/proc/{pid}/task")), len(os.listdir(f"/proc/{pid}/fd"))


def _scrape(port: int) -> str:
    return str(urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode())


def test_another_user_cannot_load_the_hub_through_its_metrics_port(hub_factory, raw_client):
    port = free_port()
    hub = hub_factory(["--metrics-port", str(port)])
    wait_until(lambda: _try(_scrape, port), "the metrics port", 20)
    threads0, fds0 = _threads_and_fds(hub.pid)

    attacker, hold = hold_connections_as_nobody(port, CONNECTIONS)
    try:
        time.sleep(2)  # time for a thread-per-connection server to take them all
        threads, fds = _threads_and_fds(hub.pid)
        # One connection at a time (and its deadline timer), not one per connection.
        assert threads <= threads0 + 2, f"{threads0} -> {threads} threads under {CONNECTIONS} idle connections"
        assert fds <= fds0 + 2, f"{fds0} -> {fds} fds under {CONNECTIONS} idle connections"
        client = raw_client()  # the bus itself is untouched
        client.subscribe()
        emit("agent", "during_the_attack")
        assert [e["event_type"] for e in client.events(1)] == ["during_the_attack"]
    finally:
        os.close(hold)
        os.waitpid(attacker, 0)

    # Once the attacker's connections are gone the port answers again.
    wait_until(lambda: _try(_scrape, port), "a scrape after the attack", 60)
    assert "waitbus_hub_events_broadcast_total" in _scrape(port)


def test_a_dribbled_metrics_request_is_cut_off_by_a_whole_request_deadline(hub_factory):
    port = free_port()
    hub_factory(["--metrics-port", str(port)])
    wait_until(lambda: _try(_scrape, port), "the metrics port", 20)
    start = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        closed = False
        while time.monotonic() - start < 20:  # one header byte per 0.5 s, for ever
            try:
                s.sendall(b"X")
                s.settimeout(0.5)
                if s.recv(4096) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:  # reset by the server's shutdown
                closed = True
                break
    elapsed = time.monotonic() - start
    assert closed, "a request dribbled for 20 s was never cut off"
    assert elapsed < 10, f"cut off only after {elapsed:.1f} s (deadline 5 s)"
    assert "waitbus_hub_events_broadcast_total" in _scrape(port)


def _try(fn, *args) -> bool:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except OSError:
        return False
    return True

"""Crashes and outages: kill -9 of either bridge, a nats-server restart, a server down for a
while, and a server that never answers. Every event arrives exactly once, in order per origin."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.slow

N = 300


def _emit_in_background(stack, count: int, tag: str, pace: float) -> threading.Thread:
    thread = threading.Thread(target=stack.emit, args=(count, tag, pace), daemon=True)
    thread.start()
    return thread


def _exactly_once(stack, tag: str, count: int) -> None:
    got = stack.wait_remote(tag, count, timeout=60)
    time.sleep(0.5)  # a late duplicate would land now
    got = stack.remote_tags(tag)
    assert sorted(got) == list(range(count)), f"missing {set(range(count)) - set(got)}, {len(got)} rows"
    assert got == list(range(count)), "out of order"


def _streaming(nats_server, stack_factory, wait_until):
    """Alpha publishes N paced agent events to beta; returns once the first ones landed."""
    a, b = stack_factory("alpha"), stack_factory("beta")
    b.start_bridge(nats_server.url)
    a.start_bridge(nats_server.url, "--source", "agent", "--no-inbound")
    emitter = _emit_in_background(a, N, "k", 0.003)
    wait_until(lambda: len(b.remote_tags("k")) >= 30, "the first events on beta", timeout=30)
    return a, b, emitter


def test_outbound_bridge_killed_with_9_and_restarted_loses_and_duplicates_nothing(
    nats_server, stack_factory, wait_until
):
    a, b, emitter = _streaming(nats_server, stack_factory, wait_until)
    a.kill_bridge()  # mid-stream: some published, some not, the cursor wherever it was
    time.sleep(0.3)
    a.start_bridge(nats_server.url, "--source", "agent", "--no-inbound")
    emitter.join(60)
    _exactly_once(b, "k", N)
    assert nats_server.stream_messages() == N  # JetStream dropped every republished message


def test_inbound_bridge_killed_with_9_and_restarted_loses_and_duplicates_nothing(
    nats_server, stack_factory, wait_until
):
    _a, b, emitter = _streaming(nats_server, stack_factory, wait_until)
    b.kill_bridge()  # stored but not acked: redelivered after restart, deduped by event id
    time.sleep(0.3)
    b.start_bridge(nats_server.url)
    if "unacknowledged when the last run stopped" in b.log_text():
        assert "resuming in order from stream sequence" in b.log_text()
    emitter.join(60)
    _exactly_once(b, "k", N)


def test_nats_server_restart_mid_stream_loses_and_duplicates_nothing(nats_server, stack_factory, wait_until):
    a, b, emitter = _streaming(nats_server, stack_factory, wait_until)
    nats_server.stop()
    nats_server.start()  # same port, same store dir: the stream and the consumers survive
    emitter.join(60)
    _exactly_once(b, "k", N)
    assert a.bridge_proc.poll() is None and b.bridge_proc.poll() is None
    assert "reconnected" in a.log_text() and "reconnected" in b.log_text()


def test_a_network_cut_delivers_the_backlog_when_the_server_returns(nats_server, stack_factory, wait_until):
    a, b = stack_factory("alpha"), stack_factory("beta")
    b.start_bridge(nats_server.url)
    a.start_bridge(nats_server.url, "--source", "agent", "--no-inbound")
    a.emit(10, "before")
    b.wait_remote("before", 10)
    nats_server.stop()
    a.emit(100, "during")  # stored on alpha; nowhere to go
    time.sleep(3)  # a cut of a few seconds: both bridges retry and wait
    assert b.remote_tags("during") == []
    nats_server.start()
    _exactly_once(b, "during", 100)
    assert b.remote_tags("before") == list(range(10))


def test_an_unreachable_server_gives_up_after_bounded_retries_with_exit_5(stack_factory):
    from socket import socket

    with socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        url = f"nats://127.0.0.1:{s.getsockname()[1]}"
    a = stack_factory("alpha", hub=False)
    started = time.monotonic()
    done = a.run_bridge(url, "--connect-attempts", "3", "--connect-timeout", "1")
    took = time.monotonic() - started
    assert done.returncode == 5, done.stderr
    lines = done.stderr.strip().splitlines()
    assert "Traceback" not in done.stderr
    # One line per retry, then one line saying why it stopped.
    assert [line.split(" failed")[0] for line in lines[:-1]] == [
        "waitbus-bridge-nats: connection attempt 1",
        "waitbus-bridge-nats: connection attempt 2",
    ]
    assert f"cannot reach NATS at {url}" in lines[-1] and "gave up after 3 attempts" in lines[-1]
    assert took < 30

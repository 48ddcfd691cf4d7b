"""Two and three waitbus stacks bridged through one real nats-server (JetStream)."""

from __future__ import annotations

import json


def test_an_event_emitted_on_a_unblocks_a_wait_on_b(nats_server, stack_factory):
    a, b = stack_factory("alpha"), stack_factory("beta")
    a.start_bridge(nats_server.url, "--source", "pytest")
    b.start_bridge(nats_server.url)
    waiter = b.start_wait("--source", "pytest", "--match", 'fields.outcome="passed"', "--timeout", "30s")
    event_id = a.emit_cli("pytest", "pytest_session", 'outcome="passed"', "passed=3")
    frame = b.finish_wait(waiter)
    assert frame["source"] == "pytest"
    assert frame["fields"]["passed"] == 3
    assert frame["fields"]["remote"]["host"] == "alpha"
    assert frame["fields"]["remote"]["event_id"] == event_id
    assert frame["delivery_id"] == event_id


def test_only_matching_events_leave_and_nothing_leaves_by_default(nats_server, stack_factory, wait_until):
    a, b, c = stack_factory("alpha"), stack_factory("beta"), stack_factory("gamma")
    a.start_bridge(nats_server.url, "--source", "pytest")  # a predicate: only pytest leaves
    c.start_bridge(nats_server.url)  # no predicate: inbound only, nothing of c's leaves
    b.start_bridge(nats_server.url)
    c.emit(3, "from-gamma")
    a.emit(2, "private")  # agent events: not matched by alpha's predicate
    marker = a.emit_cli("pytest", "pytest_session", 'outcome="failed"')
    # Alpha publishes in log order, so once the marker is on beta, anything before it
    # that had matched would be there too.
    wait_until(lambda: any(r[2] == marker for r in b.rows()), "the marker on beta", timeout=30)
    assert b.remote_tags("private") == []
    assert b.remote_tags("from-gamma") == []
    assert nats_server.stream_messages() == 1
    assert "outbound: off (no predicate)" in c.log_text()


def test_two_way_with_no_echo(nats_server, stack_factory, exchange_both_ways):
    a, b = stack_factory("alpha"), stack_factory("beta")
    a.start_bridge(nats_server.url, "--source", "agent")
    b.start_bridge(nats_server.url, "--source", "agent")
    exchange_both_ways(a, b)
    for stack, own, other in ((a, "a", "b"), (b, "b", "a")):
        fields = [json.loads(r[3]) for r in stack.rows()]
        hosts = [f["remote"]["host"] for f in fields if "remote" in f]
        assert stack.name not in hosts, "an event came back to the bus that emitted it"
        assert sum(1 for f in fields if f["tag"] == own) == 5  # its own, once, never re-stored
        assert stack.remote_tags(other) == list(range(5))  # the other's, once each, in order
    # Bridged-in events never leave again: the stream holds only the 12 originals.
    assert nats_server.stream_messages() == 12
    assert "of our own skipped" not in a.log_text()  # counted only at stop
    assert a.stop_bridge() == 0
    assert "6 of our own skipped" in a.log_text()


def test_three_buses_fan_in_to_one(nats_server, stack_factory):
    a, b, c = stack_factory("alpha"), stack_factory("beta"), stack_factory("gamma")
    c.start_bridge(nats_server.url)
    a.start_bridge(nats_server.url, "--source", "agent", "--no-inbound")
    b.start_bridge(nats_server.url, "--source", "agent", "--no-inbound")
    a.emit(20, "a")
    b.emit(20, "b")
    assert c.wait_remote("a", 20) == list(range(20))  # per origin, in emit order
    assert c.wait_remote("b", 20) == list(range(20))
    hosts = {json.loads(r[3])["remote"]["host"] for r in c.rows()}
    assert hosts == {"alpha", "beta"}
    assert len(c.rows()) == 40

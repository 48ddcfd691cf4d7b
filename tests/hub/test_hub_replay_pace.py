"""Replay of a large backlog never stalls: the hub pumps the next chunk as soon as
the subscriber's socket can take it, not on the next doorbell or heartbeat."""

from __future__ import annotations

import time

from waitbus import emit

EVENTS = 10_000


def test_a_fast_reader_replays_a_big_backlog_without_waiting_for_the_heartbeat(hub_factory, raw_client):
    # With heartbeat_sec 60, a replay that waited for a tick would take a minute or
    # more; a reader that keeps up must get everything at once (seconds on a busy box).
    marker = emit("bench", "marker").event_id
    for i in range(EVENTS):
        emit("bench", "r", fields={"i": i, "pad": "x" * 40})
    hub_factory(["--heartbeat-sec", "60"])
    client = raw_client()
    client.subscribe(since=marker)
    # Count frames only (decoding each would make this reader the bottleneck); the
    # client's own decoder, which may already hold the first frames after the ack.
    got = len(client.pending)
    deadline = time.monotonic() + 20
    client.sock.settimeout(1)
    while got < EVENTS and time.monotonic() < deadline:
        try:
            data = client.sock.recv(262144)
        except TimeoutError:
            continue
        assert data, "hub closed the stream mid-replay"
        got += len(client.decoder.feed(data))
    assert got == EVENTS, f"replay stalled after {got} of {EVENTS} events"

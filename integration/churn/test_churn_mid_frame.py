"""Clients that vanish in the middle of a frame, either way: a subscribe frame cut
short by its sender, or an event frame the hub is still writing when the reader
leaves. The hub keeps serving everyone else, closes every such socket (its fd count
returns to where it was) and logs no error."""

from __future__ import annotations

import socket
import struct

import msgspec
import pytest

from waitbus import emit
from waitbus_wire import encode_frame

# A real subscribe frame (replay cursor, filters and a `where`) to cut at every kind of place.
SUBSCRIBE = encode_frame(
    msgspec.json.encode(
        {
            "since": "01HZZZZZZZZZZZZZZZZZZZZZZZ",
            "filters": ["acme/*"],
            "where": [['fields.conclusion="failure"'], ['source="pytest"']],
        }
    )
)
CUTS = (1, 3, 4, 5, len(SUBSCRIBE) // 2, len(SUBSCRIBE) - 1)  # in the header, at its end, in the body


def _half_sender(path: str, cut: int) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(SUBSCRIBE[:cut])
    return s


@pytest.mark.timeout(60)
def test_half_sent_subscribe_frames_cost_nothing_once_their_senders_leave(hub, raw_client, probe):
    p = probe(hub)
    good = raw_client()
    good.subscribe()
    fds_before = p.fds()

    # Fifty that stay connected on half a frame do not hold up the single-threaded hub ...
    waiting = [_half_sender(str(hub.socket), CUTS[i % len(CUTS)]) for i in range(50)]
    late = raw_client()
    late.subscribe()  # ... a new subscriber is still acked
    sent = emit("agent", "load").event_id
    assert [f["event_id"] for f in good.events(1)] == [sent]
    assert [f["event_id"] for f in late.events(1)] == [sent]
    late.close()

    # ... and three hundred more leave mid-frame: a clean close, a write shutdown,
    # or a reset (SO_LINGER 0).
    for i in range(300):
        s = _half_sender(str(hub.socket), CUTS[i % len(CUTS)])
        if i % 3 == 1:
            s.shutdown(socket.SHUT_WR)
        elif i % 3 == 2:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    for s in waiting:
        s.close()

    assert p.settle(p.fds, fds_before) <= fds_before
    stats = p.stats()
    assert stats["subscribers"] == 1  # none of them became a subscriber
    sent = emit("agent", "load").event_id
    assert [f["event_id"] for f in good.events(1)] == [sent]
    assert p.log_problems() == []


@pytest.mark.timeout(60)
def test_readers_that_leave_while_the_hub_is_mid_send_of_large_frames(hub, raw_client, probe):
    """Each round: 20 subscribers, 8 events near the 48 KiB fields cap (~48 KB frames:
    far more than an AF_UNIX send buffer, so the hub is left holding a partly written
    frame for each), then every reader takes a few bytes and shuts its socket."""
    p = probe(hub)
    good = raw_client()
    good.subscribe()
    fds_before = p.fds()
    blob = "y" * (47 * 1024)
    sent: list[str] = []
    got: list[str] = []
    for round_ in range(5):
        leavers = [raw_client() for _ in range(20)]
        for c in leavers:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.subscribe()
        ids = [emit("agent", "big", fields={"r": round_, "i": i, "blob": blob}).event_id for i in range(8)]
        for i, c in enumerate(leavers):
            c.sock.recv(7 + i)  # a few bytes into the first event frame
            c.sock.shutdown(socket.SHUT_RDWR)
            c.close()
        sent += ids
        got += [f["event_id"] for f in good.events(len(ids), timeout=20)]

    assert got == sent  # everyone else is served, whole frames, once each
    assert p.settle(p.fds, fds_before) <= fds_before
    stats = p.stats()
    assert stats["subscribers"] == 1
    assert stats["evictions"] == 0  # they left; nobody was evicted
    assert p.log_problems() == []
    assert hub.proc.poll() is None

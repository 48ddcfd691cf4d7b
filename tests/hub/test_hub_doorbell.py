"""The doorbell carries the committed row, and the log stays the truth: the hub fans
out a carried row only when it is the next after its head and comes from its own
log; a gap, a stale or repeated datagram, another log's row and a drain that may
have lost a datagram all end in a read of the log, in seq order, exactly once."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus import emit
from waitbus_hub._doorbell import drain
from waitbus_store import Row, Store, carried, carry, resolve_paths


def _row(seq: int, i: int = 0) -> Row:
    return Row(seq, f"01H{seq:023d}", "agent", "tick", None, None, 1, f"d{seq}", "s", f'{{"i":{i}}}')


@pytest.fixture
def bell() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def test_drain_takes_the_rows_that_follow_the_head_in_order(bell: tuple[socket.socket, socket.socket]) -> None:
    send, hub = bell
    for seq in (7, 5, 6, 4):  # out of order across producers; 4 is at the head already
        send.send(carry("/db", _row(seq)))
    rows, read_log = drain(hub, "/db", 4, full=10)
    assert [r.seq for r in rows] == [5, 6, 7]
    assert not read_log


@pytest.mark.parametrize(
    ("datagrams", "expect"),
    [
        ([carry("/db", _row(6))], []),  # a gap: 5 committed, its datagram not (yet) here
        ([b"\x01"], []),  # a bare ring (a big row, or an older producer)
        ([carry("/other/db", _row(5))], []),  # another log's row is never sent from here
        ([b"\x02garbage"], []),
        ([carry("/db", _row(5)), carry("/db", _row(7))], [5]),  # sent up to the gap
    ],
)
def test_drain_reads_the_log_for_what_it_cannot_use(
    bell: tuple[socket.socket, socket.socket], datagrams: list[bytes], expect: list[int]
) -> None:
    send, hub = bell
    for data in datagrams:
        send.send(data)
    rows, read_log = drain(hub, "/db", 4, full=10)
    assert [r.seq for r in rows] == expect
    assert read_log


def test_a_full_drain_reads_the_log(bell: tuple[socket.socket, socket.socket]) -> None:
    # A producer that found the queue full lost its datagram (EAGAIN): a drain that
    # long cannot tell, so it reads the log even though every row it got follows.
    send, hub = bell
    for seq in range(5, 8):
        send.send(carry("/db", _row(seq)))
    rows, read_log = drain(hub, "/db", 4, full=3)
    assert [r.seq for r in rows] == [5, 6, 7]
    assert read_log


def test_the_hub_sends_each_row_once_in_order_whatever_the_doorbell_says(
    hub_factory: Callable[..., object], raw_client: Callable[[], object]
) -> None:
    hub_factory()
    client = raw_client()
    client.subscribe()  # type: ignore[attr-defined]
    paths = resolve_paths()
    db = os.path.realpath(paths.db)  # the hub names its log by its real path
    ring = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        # Two rows committed around the SDK (no ring), then only the second's datagram:
        # the gap sends the hub to the log for both.
        with Store(db) as store:
            a = store.insert(source="agent", event_type="a", fields=b'{"i":1}')
            b = store.insert(source="agent", event_type="b", fields=b'{"i":2}')
            row_b = store.get(b.event_id)
        assert row_b is not None
        ring.sendto(carry(db, row_b[0]), str(paths.doorbell))
        # A row from another log at the next seq must not be sent from the datagram.
        ring.sendto(carry("/not/our/events.db", _row(b.seq + 1, 99)), str(paths.doorbell))
        # Then a normal emit (carried), and its datagram again (stale: sent once).
        c = emit("agent", "c", fields={"i": 3})
        with Store(db) as store:
            row_c = store.get(c.event_id)
        assert row_c is not None
        ring.sendto(carry(db, row_c[0]), str(paths.doorbell))
        got = client.events(3, timeout=10)  # type: ignore[attr-defined]
        assert [e["event_id"] for e in got] == [a.event_id, b.event_id, c.event_id]
        assert client.events(1, timeout=0.5) == []  # type: ignore[attr-defined]
    finally:
        ring.close()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600) | st.builds(lambda b: b"\x02" + b, st.binary(max_size=600)))
def test_any_datagram_is_a_row_or_a_read_of_the_log(data: bytes) -> None:
    # Whatever lands on the doorbell, the hub's live loop must not raise: a datagram it
    # cannot use as a well-typed row only sends it to the log.
    row = carried("/db", data)
    assert row is None or (isinstance(row.seq, int) and isinstance(row.fields, str))


def test_a_row_of_the_wrong_types_is_not_carried() -> None:
    good = carry("/db", _row(5))
    bad = good.replace(b',5,"01H', b',"5","01H')  # seq as a string
    assert carried("/db", good) is not None
    assert carried("/db", bad) is None

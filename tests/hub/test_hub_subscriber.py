"""Subscriber queue and filter mechanics on real socketpairs."""

from __future__ import annotations

import socket
import time

from waitbus_hub._rows import Prepared
from waitbus_hub._subscriber import Subscriber
from waitbus_store import Row
from waitbus_wire import FrameDecoder, Subscribe, encode_frame


def row(
    seq: int,
    *,
    owner: str | None = None,
    repo: str | None = None,
    event_type: str = "e",
    fields: str = '{"source":"agent","event_type":"e"}',
) -> Row:
    return Row(seq, f"01{seq:024d}", "agent", event_type, owner, repo, 0, f"d{seq}", "", fields)


def test_flush_survives_partial_writes_and_never_tears_frames():
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    a.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    a.setblocking(False)
    sub = Subscriber(a, time.monotonic())
    frames = [encode_frame(b'{"n":%d,"pad":"%s"}' % (i, b"x" * 3000)) for i in range(200)]
    for f in frames:
        sub.enqueue(f)
    decoder, got = FrameDecoder(), []
    b.settimeout(5)
    while not sub.flush():
        assert sub.queued_bytes == sum(len(f) for f in sub.queue) - sub.offset
        got.extend(decoder.feed(b.recv(65536)))
    while len(got) < 200:
        got.extend(decoder.feed(b.recv(65536)))
    assert got == [f[4:] for f in frames]
    assert sub.queued_bytes == 0 and sub.at_boundary()
    a.close()
    b.close()


def test_filters_and_event_types():
    a, b = socket.socketpair()
    sub = Subscriber(a, 0.0)
    sub.configure(Subscribe(filters=["acme/*", "solo/app"], event_types=["workflow_run"]))
    assert sub.wants(Prepared(row(1, owner="acme", repo="x", event_type="workflow_run")))
    assert sub.wants(Prepared(row(2, owner="solo", repo="app", event_type="workflow_run")))
    assert not sub.wants(Prepared(row(3, owner="solo", repo="other", event_type="workflow_run")))
    assert not sub.wants(Prepared(row(4, owner="acme", repo="x", event_type="workflow_job")))
    assert not sub.wants(Prepared(row(5, event_type="workflow_run")))  # no owner: only "*" matches
    a.close()
    b.close()


def test_where_predicates_decode_fields_once_and_tolerate_bad_json():
    a, b = socket.socketpair()
    sub = Subscriber(a, 0.0)
    sub.configure(Subscribe(where=[["fields.n=1"], ['source="other"']]))
    good = Prepared(row(1, fields='{"source":"agent","event_type":"e","n":1}'))
    assert sub.wants(good) and good.view() is good.view()
    assert not sub.wants(Prepared(row(2, fields='{"n":2}')))
    assert not sub.wants(Prepared(row(3, fields="{not json")))
    a.close()
    b.close()


def test_oversize_rows_become_truncated_frames():
    p = Prepared(row(1, fields='{"blob":"%s"}' % ("z" * 70000)))
    assert len(p.frame) < 1000 and b'"kind":"truncated"' in p.frame

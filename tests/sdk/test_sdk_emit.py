"""emit(): validation, idempotency, durability with no hub, payloads."""

from __future__ import annotations

import os
import socket

import pytest

from waitbus import EventError, emit, fetch_payload
from waitbus._api import _since
from waitbus_store import MAX_CARRY, RING, Store, carried, resolve_paths
from waitbus_wire import is_ulid, ulid_time_ms


def test_emit_with_no_hub_commits_the_row():
    result = emit(
        "pytest", "pytest_session", fields={"outcome": "passed"}, owner="me", repo="proj", summary="tests\npassed   ok"
    )
    assert result.inserted and is_ulid(result.event_id)
    with Store(resolve_paths().db) as store:
        row, payload = store.get(result.event_id)
    assert (row.source, row.event_type, row.owner, row.repo) == ("pytest", "pytest_session", "me", "proj")
    assert row.summary == "tests passed ok"  # one line, whitespace collapsed
    assert payload is None


def test_repeated_delivery_id_is_a_no_op_returning_the_original():
    first = emit("github", "workflow_run", delivery_id="abc-1", fields={"n": 1})
    again = emit("github", "workflow_run", delivery_id="abc-1", fields={"n": 2})
    other_source = emit("agent", "workflow_run", delivery_id="abc-1")
    assert again.event_id == first.event_id and not again.inserted
    assert other_source.inserted and other_source.event_id != first.event_id


def test_missing_delivery_ids_are_unique():
    ids = {emit("agent", "tick").event_id for _ in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": "Bad Source", "event_type": "x"}, "source must be"),
        ({"source": "agent", "event_type": ""}, "event_type must be"),
        ({"source": "agent", "event_type": "x", "fields": [1]}, "fields must be a JSON object"),
        ({"source": "agent", "event_type": "x", "fields": {"source": "other"}}, "contradicts"),
        ({"source": "agent", "event_type": "x", "fields": {"b": object()}}, "JSON"),
        ({"source": "agent", "event_type": "x", "fields": {"big": "x" * 60000}}, "limit"),
        ({"source": "agent", "event_type": "x", "owner": "two\nlines"}, "owner must be"),
        ({"source": "agent", "event_type": "x", "delivery_id": ""}, "delivery_id"),
        ({"source": "agent", "event_type": "x", "delivery_id": "\ud800"}, "delivery_id must be a UTF-8"),
    ],
)
def test_invalid_events_are_refused_and_nothing_is_written(kwargs, message):
    with pytest.raises(EventError, match=message):
        emit(**kwargs)
    db = resolve_paths().db
    if db.exists():
        with Store(db) as store:
            assert store.count() == 0


def test_payload_round_trips_raw():
    sent = emit("github", "workflow_run", payload=b'{"raw": true}')
    as_json = emit("github", "workflow_run", payload={"k": [1, 2]})
    assert fetch_payload(sent.event_id) == b'{"raw": true}'
    assert fetch_payload(as_json.event_id) == b'{"k":[1,2]}'
    assert fetch_payload("0" * 26) is None


def test_emit_rings_the_doorbell_after_commit_carrying_the_row():
    paths = resolve_paths().ensure()
    db = os.path.realpath(paths.db)
    bell = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    bell.bind(str(paths.doorbell))
    bell.settimeout(5)
    try:
        sent = emit("agent", "tick", fields={"n": 1}, owner="o", repo="r", summary="one tick")
        row = carried(db, bell.recv(MAX_CARRY + 1))
        with Store(paths.db) as store:  # committed before the ring was sent, and the same row
            stored = store.get(sent.event_id)
        assert stored is not None
        assert row == stored[0]
        emit("agent", "tick", delivery_id="d1")
        again = carried(db, bell.recv(MAX_CARRY + 1))
        assert again is not None and again.delivery_id == "d1"
        emit("agent", "tick", delivery_id="d1")  # a duplicate rings nobody
        bell.settimeout(0.2)
        with pytest.raises(TimeoutError):
            bell.recv(16)
    finally:
        bell.close()


def test_a_row_too_big_to_carry_rings_bare():
    paths = resolve_paths().ensure()
    bell = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    bell.bind(str(paths.doorbell))
    bell.settimeout(5)
    try:
        emit("agent", "big", fields={"pad": "x" * MAX_CARRY})
        assert bell.recv(MAX_CARRY + 1) == RING  # the hub reads this one from the log
    finally:
        bell.close()


def test_emit_after_fork_uses_a_fresh_connection():
    emit("agent", "parent")
    pid = os.fork()
    if pid == 0:  # child: must not reuse the parent's SQLite handle
        code = 0
        try:
            emit("agent", "child")
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with Store(resolve_paths().db) as store:
        assert [r.event_type for r in store.read_after(0)] == ["parent", "child"]


def test_since_accepts_an_event_id_or_seconds():
    assert _since(None) is None
    eid = emit("agent", "x").event_id
    assert _since(eid) == eid
    floor = _since(60)
    assert floor is not None and floor < eid and abs(ulid_time_ms(eid) - ulid_time_ms(floor) - 60_000) < 5000
    with pytest.raises(ValueError, match="ULID"):
        _since("yesterday")
    with pytest.raises(ValueError):
        _since(-1)

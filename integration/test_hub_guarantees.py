"""The hub's promises from docs/wire.md, checked with hand-written raw clients."""

from __future__ import annotations

import os
import socket
import stat
import struct
import subprocess
import sys
import time
from typing import Any

import msgspec
import pytest

from waitbus import emit, subscribe
from waitbus_store import Store
from waitbus_store import resolve_paths as _paths
from waitbus_wire import encode_frame


def stats(raw_client) -> dict[str, object]:
    client = raw_client()
    client.send_raw(encode_frame(b'{"op":"stats"}'))
    frame = client.next(5)
    assert frame is not None and frame["kind"] == "hub_stats"
    return frame


@pytest.mark.timeout(60)
def test_socket_is_0600_in_a_0700_dir(hub):
    p = _paths()
    assert stat.S_IMODE(os.stat(p.socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(p.runtime_dir).st_mode) == 0o700


@pytest.mark.timeout(60)
def test_ack_replay_boundary_and_live_frames(hub, raw_client):
    old = [emit("agent", "load", fields={"i": i}).event_id for i in range(5)]
    client = raw_client()
    ack = client.subscribe(since=old[1])
    assert ack == {
        "kind": "subscribe_ack",
        "proto": 1,
        "caught_up_at": old[-1],
        "heartbeat_sec": 1,
        "max_frame_bytes": 65536,
    }
    replay = client.events(3)
    live = emit("agent", "load", fields={"i": 5}).event_id
    (frame,) = client.events(1)
    assert [f["event_id"] for f in replay] == old[2:]
    assert all(f["event_id"] <= ack["caught_up_at"] for f in replay)
    assert frame["event_id"] == live and frame["event_id"] > ack["caught_up_at"]
    assert set(frame) == {
        "kind",
        "event_id",
        "event_type",
        "source",
        "owner",
        "repo",
        "received_at",
        "delivery_id",
        "summary",
        "fields",
    }
    assert frame["fields"] == {"i": 5, "source": "agent", "event_type": "load"}


@pytest.mark.timeout(60)
def test_filters_event_types_and_hub_side_predicates(hub, raw_client):
    by_repo, by_type, by_where = raw_client(), raw_client(), raw_client()
    by_repo.subscribe(filters=["acme/*"])
    by_type.subscribe(event_types=["workflow_job"])
    by_where.subscribe(where=[['fields.conclusion="failure"'], ['source="pytest"', 'fields.outcome="failed"']])
    emit("github", "workflow_run", owner="acme", repo="app", fields={"conclusion": "failure"})
    emit("github", "workflow_job", owner="other", repo="x", fields={"conclusion": "success"})
    emit("pytest", "pytest_session", fields={"outcome": "failed"})
    emit("pytest", "pytest_session", fields={"outcome": "passed"})
    # Last, one event every filter passes: the hub fans out in commit order, so what a
    # client has before it is all it will ever get of the four (no timing involved).
    emit("github", "workflow_job", owner="acme", repo="end", fields={"conclusion": "failure"})

    def until_end(client: Any) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        while not got or got[-1]["repo"] != "end":
            (frame,) = client.events(1, timeout=30)  # nothing in 30 s: the hub lost one
            got.append(frame)
        return got[:-1]

    assert [f["event_type"] for f in until_end(by_repo)] == ["workflow_run"]
    assert [f["owner"] for f in until_end(by_type)] == ["other"]
    got = until_end(by_where)
    assert [(f["source"], f["fields"].get("outcome")) for f in got] == [("github", None), ("pytest", "failed")]


@pytest.mark.timeout(60)
def test_heartbeats_arrive(hub, raw_client):
    client = raw_client()
    client.subscribe()
    frame = client.next(3)
    assert frame is not None and frame["kind"] == "daemon_heartbeat"
    assert frame["uptime_sec"] >= 0 and abs(frame["ts"] - time.time()) < 5


BAD_INPUTS = [
    struct.pack(">I", 0),  # zero length
    struct.pack(">I", 65537) + b"x" * 100,  # over the cap
    encode_frame(b"not json"),
    encode_frame(b"[1, 2]"),
    encode_frame(b'{"filters": ["no spaces allowed"]}'),
    encode_frame(b'{"since": "not-a-ulid"}'),
    encode_frame(b'{"envelope": "full"}'),
    encode_frame(b'{"filters": "*"}'),
    encode_frame(b'{"where": [["no equals sign"]]}'),
    encode_frame(b'{"op": "shutdown"}'),
    encode_frame('{"filters": ["\udcff"]}'.encode("utf-8", "surrogatepass")),
    b"\x00\x00\x01",  # a torn header, then EOF
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("data", BAD_INPUTS, ids=range(len(BAD_INPUTS)))
def test_malformed_subscribes_are_closed_without_reply(hub, raw_client, data):
    bad = raw_client()
    bad.send_raw(data)
    bad.sock.shutdown(socket.SHUT_WR) if data.startswith(b"\x00\x00\x01") else None
    assert bad.next(3) is None and bad.eof  # closed, nothing sent
    good = raw_client()
    good.subscribe()
    sent = emit("agent", "load").event_id
    assert [f["event_id"] for f in good.events(1)] == [sent]
    assert hub.proc.poll() is None


@pytest.mark.timeout(60)
def test_unsupported_proto_gets_a_version_rejection(hub, raw_client):
    client = raw_client()
    client.send_raw(encode_frame(b'{"proto": 2}'))
    frame = client.next(3)
    assert frame is not None and frame["kind"] == "subscribe_rejected"
    assert frame["reason"] == "version" and frame["supported"] == [1]
    assert client.next(3) is None and client.eof


@pytest.mark.timeout(60)
def test_silent_client_is_dropped_after_the_handshake_timeout(hub, raw_client):
    client = raw_client()
    assert client.next(8) is None and client.eof  # no subscribe frame within 5 s


@pytest.mark.timeout(120)
def test_a_subscriber_that_never_reads_is_evicted_and_others_keep_up(hub_factory, raw_client):
    hub_factory(["--lag-limit-bytes", "131072", "--heartbeat-sec", "60"])
    stuck = raw_client()
    stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.subscribe()
    with subscribe() as good:
        blob = "x" * 4000
        lags = []
        for i in range(400):
            sent = emit("agent", "load", fields={"i": i, "blob": blob})
            frame = good.get(5)
            assert frame is not None and frame.event_id == sent.event_id
            lags.append(time.time_ns() - frame.received_at)
    assert sorted(lags)[len(lags) // 2] < 50e6  # the healthy one was never held up (median < 50 ms)
    assert stats(raw_client)["evictions"] == 1
    # The stuck one reads what was flushed to it, then a clean end: never a torn frame.
    frames = []
    while (frame := stuck.next(5)) is not None:
        frames.append(frame)
    assert stuck.eof
    assert frames and frames[-1]["kind"] in ("event", "subscribe_rejected")
    assert len(frames) < 400


@pytest.mark.timeout(60)
def test_oversize_stored_event_becomes_truncated_on_the_wire(hub, raw_client):
    client = raw_client()
    client.subscribe()
    big = msgspec.json.encode({"source": "agent", "event_type": "big", "blob": "y" * 70000})
    with Store(_paths().db) as store:  # bypasses emit()'s 48 KiB cap, as a foreign writer could
        event_id = store.insert(source="agent", event_type="big", fields=big).event_id
    emit("agent", "ring")  # rings the doorbell
    frame = client.next(5)
    assert frame == {
        "kind": "truncated",
        "event_id": event_id,
        "reason": frame["reason"],
        "max_frame_bytes": 65536,
        "correlation_id": None,
    }
    with subscribe(source="agent", since=5) as sub:  # the SDK fetches the whole event from the log
        full = sub.get(5)
    assert full is not None and full.event_id == event_id and len(full.fields["blob"]) == 70000


@pytest.mark.timeout(60)
def test_a_second_hub_refuses_to_start_and_says_why(hub):
    out = subprocess.run([sys.executable, "-m", "waitbus_hub"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 3
    assert f"another hub (pid {hub.pid})" in out.stderr


@pytest.mark.timeout(60)
def test_stale_socket_from_a_crash_is_replaced(hub_factory, raw_client):
    hub = hub_factory()
    hub.kill()
    assert _paths().socket.exists()  # left behind by kill -9
    hub.start()
    client = raw_client()
    client.subscribe()
    sent = emit("agent", "load").event_id
    assert [f["event_id"] for f in client.events(1)] == [sent]


@pytest.mark.timeout(60)
def test_socket_activation_uses_the_inherited_listener(waitbus_env, raw_client, reap):
    p = _paths().ensure()
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(p.socket))
    listener.listen(16)
    # systemd passes the socket as fd 3 with LISTEN_PID set to the service's own pid.
    launcher = (
        "import os, sys; os.dup2(int(sys.argv[1]), 3); os.environ['LISTEN_PID'] = str(os.getpid()); "
        "os.environ['LISTEN_FDS'] = '1'; os.execv(sys.executable, [sys.executable, '-m', 'waitbus_hub'])"
    )
    proc = reap(
        subprocess.Popen(
            [sys.executable, "-c", launcher, str(listener.fileno())],
            pass_fds=(listener.fileno(),),
            stderr=subprocess.PIPE,
        )
    )
    listener.close()
    deadline = time.monotonic() + 10
    while not p.doorbell.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    client = raw_client()
    client.subscribe()
    sent = emit("agent", "load").event_id
    assert [f["event_id"] for f in client.events(1)] == [sent]
    proc.terminate()
    assert proc.wait(10) == 0
    assert p.socket.exists()  # the socket unit owns the path: the hub leaves it alone


@pytest.mark.timeout(60)
def test_prometheus_metrics_endpoint(hub_factory, raw_client):
    import urllib.request

    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    hub_factory(["--metrics-port", str(port)])
    client = raw_client()
    client.subscribe()
    emit("agent", "load")
    assert client.events(1)
    deadline = time.monotonic() + 10
    while True:
        try:
            body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    assert "waitbus_hub_events_broadcast_total 1.0" in body
    assert "waitbus_hub_subscribers 1.0" in body
    assert "waitbus_hub_evictions_total 0.0" in body
    assert 'waitbus_hub_send_latency_seconds_bucket{le="+Inf"}' in body


@pytest.mark.timeout(60)
def test_hub_applies_retention_so_the_log_stays_bounded(hub_factory, raw_client):
    hub_factory(["--retention-rows", "5", "--retention-interval", "1"])
    client = raw_client()
    client.subscribe()
    sent = [emit("agent", "load", fields={"i": i}).event_id for i in range(20)]
    assert [f["event_id"] for f in client.events(20)] == sent  # live delivery unaffected
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with Store(_paths().db) as store:
            kept = [r.event_id for r in store.read_after(0, 100)]
        if len(kept) <= 5:
            break
        time.sleep(0.2)
    assert kept == sent[-5:]  # the oldest went first

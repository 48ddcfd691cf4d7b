"""`waitbus listener serve`: a real listener subprocess on a free loopback port, spoken to
over real sockets. Source routes come from a throwaway plugin ("probe") installed as a
real distribution (a dist-info with an entry point) on PYTHONPATH, so the listener finds
it through the same entry-point door as any installed source."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests._support import WAITBUS, run_cli
from tests._support.listener import TOKEN, call, emit_post, free_port, raw, serve, stage_token, stored
from waitbus_store import resolve_paths

PROBE = """
import hashlib, json, time
from waitbus import HttpResponse, Route, SourceSpec

def echo(req):
    return HttpResponse(200, json.dumps({
        "method": req.method, "path": req.path, "len": len(req.body),
        "sha256": hashlib.sha256(req.body).hexdigest(),
        "keys_lower": all(k == k.lower() for k in req.headers),
        "x_probe": req.headers.get("x-probe"),
        "secret_names": sorted(req.secrets),
    }).encode())

def boom(req):
    raise RuntimeError("probe exploded: internal-detail-42")

def bad(req):
    return "not an HttpResponse"

def slow(req):
    open(req.headers["x-marker"], "w").close()  # tells the test the request is in flight
    time.sleep(float(req.body))
    return HttpResponse(200, b'{"slow": "done"}')

def refuse(req):
    return HttpResponse(401, b'{"error": "no"}')

SOURCE = SourceSpec(name="probe", event_types=("probe",), routes=(
    Route("POST", "/echo", echo), Route("POST", "/boom", boom), Route("GET", "/bad", bad),
    Route("POST", "/slow", slow), Route("POST", "/refuse", refuse)))
"""


def install_plugin(root: Path, module: str, code: str, entry: str) -> None:
    """A real installed distribution: the package plus a dist-info declaring its entry point."""
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(code)
    info = root / f"{module}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[waitbus.sources.v1]\n{entry} = {module}:SOURCE\n")


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "plugins"
    root.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(root))
    return root


@pytest.fixture
def probe(plugins: Path) -> Path:
    install_plugin(plugins, "waitbus_test_probe", PROBE, entry="probe")
    return plugins


# -- the listener's own routes ----------------------------------------------------------------


@pytest.mark.timeout(60)
def test_healthz_lists_sources_and_every_mounted_route(reap, tmp_path, probe):
    srv = serve(reap, tmp_path)
    status, headers, body = call(srv.port, "GET", "/healthz")
    health = json.loads(body)
    assert status == 200 and headers["content-type"] == "application/json"
    assert health["ok"] is True and "probe" in health["sources"]
    for route in ("GET /healthz", "GET /metrics", "POST /emit", "POST /echo", "GET /bad", "POST /slow"):
        assert route in health["routes"]
    assert headers["server"] == "waitbus-listener"  # no Python version advertised


@pytest.mark.timeout(60)
def test_metrics_are_prometheus_text_with_the_three_counters(reap, tmp_path, probe):
    stage_token()
    srv = serve(reap, tmp_path)
    call(srv.port, "GET", "/nowhere")
    emit_post(srv.port, {"source": "ci", "event_type": "job"}, token="wrong")
    assert emit_post(srv.port, {"source": "ci", "event_type": "job"})[0] == 201
    call(srv.port, "POST", "/echo", b"x")
    call(srv.port, "POST", "/refuse", b"x")
    status, headers, body = call(srv.port, "GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    text = body.decode()
    sample = re.compile(r'^[a-z_]+(\{([a-z_]+="[^"]*",?)*\})? -?[0-9.e+]+$')
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.match(r"^# (HELP|TYPE) [a-z_]+ ", line), line
            continue
        assert sample.match(line), f"not an exposition sample: {line!r}"
        name, value = line.rsplit(" ", 1)
        values[name] = float(value)
    for family in ("waitbus_listener_requests_total", "waitbus_ingest_events_total", "waitbus_ingest_errors_total"):
        assert f"# TYPE {family} counter" in text
    assert values['waitbus_listener_requests_total{route="/healthz",status="200"}'] >= 1
    assert values['waitbus_listener_requests_total{route="unmatched",status="404"}'] == 1
    assert values['waitbus_listener_requests_total{route="/emit",status="401"}'] == 1
    assert values['waitbus_ingest_events_total{source="emit"}'] == 1
    assert values['waitbus_ingest_events_total{source="probe"}'] == 1
    assert values['waitbus_ingest_errors_total{reason="unauthorized",source="emit"}'] == 1
    assert values['waitbus_ingest_errors_total{reason="unauthorized",source="probe"}'] == 1
    # The real parser agrees: it would raise on malformed exposition.
    from prometheus_client.parser import text_string_to_metric_families

    names = {f.name for f in text_string_to_metric_families(text)}
    assert {"waitbus_listener_requests", "waitbus_ingest_events", "waitbus_ingest_errors"} <= names


@pytest.mark.timeout(60)
def test_unknown_path_404_wrong_method_405_and_head(reap, tmp_path, probe):
    srv = serve(reap, tmp_path)
    status, _, body = call(srv.port, "GET", "/nope?token=zz9")
    assert status == 404 and json.loads(body)["error"] == "no route /nope"
    assert "zz9" not in srv.wait_log(r"GET /nope 404 [0-9.]+ms")  # the query is never logged
    status, headers, body = call(srv.port, "GET", "/emit")
    assert status == 405 and headers["allow"] == "POST" and "error" in json.loads(body)
    status, headers, _ = call(srv.port, "DELETE", "/healthz")
    assert status == 405 and headers["allow"] == "GET"
    status, headers, body = call(srv.port, "HEAD", "/healthz")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 0


# -- framing: 411, 413, keep-alive, the exact body -------------------------------------------------


@pytest.mark.timeout(60)
def test_chunked_and_length_less_posts_get_411(reap, tmp_path, probe):
    srv = serve(reap, tmp_path)
    chunked = b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
    reply, closed = raw(srv.port, chunked)
    assert reply.startswith(b"HTTP/1.1 411 ") and closed
    assert b"Content-Length" in reply.split(b"\r\n\r\n", 1)[1]  # the JSON error says what to send
    reply, closed = raw(srv.port, b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert reply.startswith(b"HTTP/1.1 411 ") and closed
    for length in (b"Content-Length: -5", b"Content-Length: 5_0", b"Content-Length: 2\r\nContent-Length: 3"):
        reply, closed = raw(srv.port, b"POST /echo HTTP/1.1\r\nHost: x\r\n" + length + b"\r\n\r\nabc")
        assert reply.startswith(b"HTTP/1.1 400 ") and closed, length


@pytest.mark.timeout(60)
def test_a_body_over_10_mib_gets_413_without_being_read(reap, tmp_path, probe):
    srv = serve(reap, tmp_path)
    # Only the headers are sent. A server that tried to read the 11 MiB would wait for
    # them (its timeout is 30 s) and this 5 s read would time out with nothing: `closed`
    # says the server closed first (no wall-clock bound: this box is shared and loaded).
    head = f"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: {11 * 1024 * 1024}\r\n\r\n".encode()
    reply, closed = raw(srv.port, head, timeout=5)
    assert reply.startswith(b"HTTP/1.1 413 ") and closed
    assert b"Connection: close" in reply
    # Exactly 10 MiB is allowed and arrives byte for byte.
    body = os.urandom(10 * 1024 * 1024)
    status, _, data = call(srv.port, "POST", "/echo", body)
    assert status == 200 and json.loads(data)["sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.timeout(60)
def test_handlers_get_exact_bytes_lowercase_headers_and_the_secrets(reap, tmp_path, probe):
    stage_token()
    srv = serve(reap, tmp_path)
    body = b'{"a": 1}\r\n\x00\xff'
    status, _, data = call(srv.port, "POST", "/echo?sig=abc", body, {"X-Probe": "yes"})
    got = json.loads(data)
    assert status == 200
    assert got == {
        "method": "POST",
        "path": "/echo",
        "len": len(body),
        "sha256": hashlib.sha256(body).hexdigest(),
        "keys_lower": True,
        "x_probe": "yes",
        "secret_names": ["emit-token"],
    }


@pytest.mark.timeout(60)
def test_keep_alive_serves_several_requests_and_an_unread_body_closes(reap, tmp_path, probe):
    stage_token()
    srv = serve(reap, tmp_path)
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        for i in range(3):
            conn.request("POST", "/echo", body=b"x" * i)
            resp = conn.getresponse()
            assert resp.status == 200 and json.loads(resp.read())["len"] == i
            assert resp.getheader("connection") is None  # still open
    finally:
        conn.close()
    # A refused /emit never reads its body, so the connection cannot carry on.
    status, headers, _ = call(srv.port, "POST", "/emit", b'{"source": "ci", "event_type": "x"}')
    assert status == 401 and headers["connection"] == "close"


# -- handler failures ------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_a_raising_or_broken_handler_is_a_500_without_a_traceback(reap, tmp_path, probe):
    srv = serve(reap, tmp_path)
    status, _, body = call(srv.port, "POST", "/boom", b"{}")
    assert status == 500
    error = json.loads(body)["error"]
    assert "source probe" in error and "internal-detail-42" not in error and "Traceback" not in error
    status, _, body = call(srv.port, "GET", "/bad")
    assert status == 500 and "source probe" in json.loads(body)["error"]
    assert call(srv.port, "GET", "/healthz")[0] == 200  # still serving
    log = srv.log_text()
    assert "RuntimeError: probe exploded: internal-detail-42" in log  # the traceback goes to the log
    assert "not an HttpResponse" in log


# -- POST /emit ----------------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_emit_without_a_staged_token_is_503_and_says_how_to_stage_one(reap, tmp_path):
    srv = serve(reap, tmp_path)
    status, reply = emit_post(srv.port, {"source": "ci", "event_type": "job"})
    assert status == 503 and "waitbus install-credentials emit-token" in reply["error"]
    assert stored() == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer", f"Bearer \u00e9{TOKEN}"],
)
def test_emit_with_a_missing_or_wrong_token_is_401_and_stores_nothing(reap, tmp_path, authorization):
    stage_token()
    srv = serve(reap, tmp_path)
    headers = {"Authorization": authorization} if authorization else {}
    event = json.dumps({"source": "ci", "event_type": "job", "fields": {"n": 1}}).encode()
    status, _, body = call(srv.port, "POST", "/emit", event, headers)
    assert status == 401 and "bearer" in json.loads(body)["error"]
    assert stored() == []
    assert TOKEN not in srv.wait_log(r"POST /emit 401 ")


def sdk_message(**kwargs: object) -> str:
    """What waitbus.emit itself says about this input (in this process, nothing stored)."""
    from waitbus import EventError, emit

    with pytest.raises(EventError) as info:
        emit(**kwargs)  # type: ignore[arg-type]
    return str(info.value)


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    "event",
    [
        {"source": "Bad Source", "event_type": "job"},
        {"source": "ci", "event_type": "job", "fields": [1, 2]},
        {"source": "ci", "event_type": "job", "fields": {"source": "other"}},
        {"source": "ci", "event_type": "job", "delivery_id": ""},
        {"source": "ci", "event_type": "job", "owner": "a\nb"},
        {"source": "ci", "event_type": "job", "payload": "x" * (4 * 1024 * 1024 + 1)},
    ],
    ids=["bad-source", "fields-list", "fields-contradiction", "empty-delivery", "two-line-owner", "big-payload"],
)
def test_emit_refuses_what_the_sdk_refuses_with_the_sdk_message(reap, tmp_path, event):
    stage_token()
    srv = serve(reap, tmp_path)
    status, reply = emit_post(srv.port, event)
    assert status == 400
    assert reply["error"] == sdk_message(**event)
    assert stored() == []


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"not json", "not JSON"),
        (b"", "not JSON"),
        (b"[1, 2]", "one JSON object"),
        (b'{"source": "ci", "event_type": "job", "colour": "red"}', "unknown key(s) 'colour'"),
        (b'{"source": "ci"}', "missing event_type"),
        (b'{"source": "ci", "event_type": "job", "summary": 7}', "summary must be a string"),
    ],
)
def test_emit_refuses_bodies_that_are_not_one_event_object(reap, tmp_path, body, message):
    stage_token()
    srv = serve(reap, tmp_path)
    status, reply = emit_post(srv.port, None, raw_body=body)
    assert status == 400 and message in reply["error"]
    assert stored() == []


@pytest.mark.timeout(60)
def test_emit_stores_the_event_and_a_repeated_delivery_id_is_a_200_no_op(reap, tmp_path):
    from waitbus import fetch_payload

    stage_token()
    srv = serve(reap, tmp_path)
    event = {
        "source": "ci",
        "event_type": "job",
        "fields": {"run_id": 42, "conclusion": "success"},
        "payload": {"log": "ok"},
        "delivery_id": "d-1",
        "owner": "octo",
        "repo": "app",
        "summary": "job   42\n passed",
    }
    status, first = emit_post(srv.port, event)
    assert status == 201 and first["inserted"] is True
    status, again = emit_post(srv.port, event)
    assert status == 200 and again == {"event_id": first["event_id"], "inserted": False}
    (row,) = stored()
    assert row["event_id"] == first["event_id"] and row["delivery_id"] == "d-1"
    assert (row["source"], row["event_type"], row["owner"], row["repo"]) == ("ci", "job", "octo", "app")
    assert row["summary"] == "job 42 passed"
    assert json.loads(str(row["fields"])) == {
        "run_id": 42,
        "conclusion": "success",
        "source": "ci",
        "event_type": "job",
    }
    assert json.loads(fetch_payload(first["event_id"]) or b"") == {"log": "ok"}
    srv.wait_log(r"POST /emit 201 [0-9.]+ms")
    log = srv.wait_log(r"POST /emit 200 [0-9.]+ms")
    assert TOKEN not in log and "run_id" not in log  # no secrets, no bodies


@pytest.mark.timeout(60)
def test_a_subscriber_hears_an_event_posted_to_emit(reap, tmp_path, hub):
    from waitbus import subscribe

    stage_token()
    srv = serve(reap, tmp_path)
    with subscribe(source="ci") as sub:
        status, reply = emit_post(srv.port, {"source": "ci", "event_type": "job", "fields": {"n": 7}})
        frame = sub.get(timeout=10)
    assert status == 201
    assert frame is not None and frame.event_id == reply["event_id"] and frame.fields["n"] == 7


# -- process: signals, port, address, start-up errors -------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_finishes_the_request_in_flight_then_exits_0(reap, tmp_path, probe, signum):
    srv = serve(reap, tmp_path)
    result: dict[str, object] = {}

    marker = tmp_path / "in-flight"

    def slow_request() -> None:
        result["reply"] = call(srv.port, "POST", "/slow", b"1.5", {"X-Marker": str(marker)})

    worker = threading.Thread(target=slow_request)
    worker.start()
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline, srv.log_text()
        time.sleep(0.01)
    srv.proc.send_signal(signum)
    assert srv.proc.wait(20) == 0
    worker.join(20)
    status, _, body = result["reply"]  # type: ignore[misc]
    assert status == 200 and json.loads(body) == {"slow": "done"}
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", srv.port), timeout=2).close()
    assert "Traceback" not in srv.log_text()


@pytest.mark.timeout(60)
def test_a_port_in_use_exits_2_with_a_clear_message(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        out = run_cli("listener", "serve", "--port", str(port))
    assert out.returncode == 2
    assert f"127.0.0.1:{port} is already in use" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.timeout(60)
def test_the_listener_binds_127_0_0_1_only(reap, tmp_path):
    srv = serve(reap, tmp_path)
    # Another loopback address reaches a socket bound to 0.0.0.0, never one bound to 127.0.0.1.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.2", srv.port), timeout=2).close()
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.rsplit(":", 1)[1], 16) == srv.port:
                listening.append((table, local.rsplit(":", 1)[0]))
    assert listening == [("/proc/net/tcp", "0100007F")]  # 127.0.0.1, and no IPv6 socket


@pytest.mark.timeout(60)
def test_port_0_picks_a_free_port_and_says_which(reap, tmp_path):
    log = tmp_path / "l.log"
    with open(log, "wb") as f:
        proc = reap(subprocess.Popen([WAITBUS, "listener", "serve", "--port", "0"], stderr=f, stdout=f))
    deadline = time.monotonic() + 20
    while not (found := re.search(r"listener up on http://127\.0\.0\.1:(\d+) ", log.read_text())):
        assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    port = int(found.group(1))
    assert port != 0 and call(port, "GET", "/healthz")[0] == 200


@pytest.mark.timeout(60)
def test_the_port_comes_from_the_config_by_default(reap, tmp_path, monkeypatch):
    port = free_port()
    monkeypatch.setenv("WAITBUS_LISTENER__PORT", str(port))
    log = tmp_path / "l.log"
    with open(log, "wb") as f:
        proc = reap(subprocess.Popen([WAITBUS, "listener", "serve"], stderr=f, stdout=f))
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            assert call(port, "GET", "/healthz")[0] == 200
            break
        except OSError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    assert f"http://127.0.0.1:{port}" in log.read_text()


def routes_only(name: str, *routes: tuple[str, str]) -> str:
    return (
        "from waitbus import HttpResponse, Route, SourceSpec\n"
        "def ok(req):\n    return HttpResponse(200)\n"
        f"SOURCE = SourceSpec(name={name!r}, routes=tuple(Route(m, p, ok) for m, p in {list(routes)!r}))\n"
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("plugs", "message"),
    [
        ({"one": [("POST", "/same")], "two": [("GET", "/other"), ("POST", "/same")]}, "claimed by both one and two"),
        ({"three": [("POST", "/emit")]}, "POST /emit is the listener's own; source three claims it"),
        ({"four": None}, "source plugin 'four' (waitbus_test_four:SOURCE) failed to load: no such dependency: zzz"),
    ],
    ids=["two-sources", "own-route", "broken-plugin"],
)
def test_a_route_clash_or_a_broken_plugin_stops_start_up_with_exit_2(plugins, plugs, message):
    for name, routes in plugs.items():
        code = routes_only(name, *routes) if routes else "raise ImportError('no such dependency: zzz')\n"
        install_plugin(plugins, f"waitbus_test_{name}", code, entry=name)
    out = run_cli("listener", "serve", "--port", str(free_port()))
    assert out.returncode == 2 and message in out.stderr, out.stderr
    assert "Traceback" not in out.stderr


# -- `waitbus serve`: the hub and the listener in one process ----------------------------------------


@pytest.mark.timeout(60)
def test_serve_runs_the_listener_next_to_the_hub_when_a_token_is_staged(reap, tmp_path, monkeypatch):
    from waitbus import subscribe

    stage_token()
    port = free_port()
    monkeypatch.setenv("WAITBUS_LISTENER__PORT", str(port))
    log = tmp_path / "serve.log"
    with open(log, "wb") as f:
        proc = reap(subprocess.Popen([WAITBUS, "serve"], stderr=f, stdout=f))
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            if call(port, "GET", "/healthz")[0] == 200 and resolve_paths().socket.exists():
                break
        except OSError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.05)
    with subscribe(source="ci") as sub:
        status, reply = emit_post(port, {"source": "ci", "event_type": "served"})
        frame = sub.get(timeout=10)
    assert status == 201 and frame is not None and frame.event_id == reply["event_id"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    text = log.read_text()
    assert f"listener up on http://127.0.0.1:{port}" in text and "POST /emit on" in text
    assert "broadcast hub up" in text and "Traceback" not in text


@pytest.mark.timeout(60)
def test_serve_with_the_listener_port_taken_runs_the_hub_and_says_why_not_the_listener(reap, tmp_path, monkeypatch):
    from waitbus import emit, subscribe

    stage_token()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        monkeypatch.setenv("WAITBUS_LISTENER__PORT", str(port))
        log = tmp_path / "serve.log"
        with open(log, "wb") as f:
            proc = reap(subprocess.Popen([WAITBUS, "serve"], stderr=f, stdout=f))
        deadline = time.monotonic() + 20
        while "broadcast hub up" not in log.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        with subscribe(source="ci") as sub:
            event_id = emit("ci", "still-served").event_id
            frame = sub.get(timeout=10)
        assert frame is not None and frame.event_id == event_id
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert f"not running listener: 127.0.0.1:{port} is already in use" in log.read_text()

"""`waitbus web`'s server against a real hub and log, over real loopback HTTP: the URL
and token, 401 without it, the security headers, the event stream's filter and cursor,
and a slow reader dropped and resumed without loss. The browser tests are in
integration/web."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from waitbus import Matcher, PredicateError, emit
from waitbus_wire import ulid_floor

pytestmark = pytest.mark.timeout(120)


def test_first_line_is_a_loopback_url_with_a_token_and_only_loopback_listens(web):
    assert web.url == f"http://127.0.0.1:{web.port}/?token={web.token}"
    from tests._support.web import listening_addresses

    assert listening_addresses(web.port) == {"0100007F"}  # 127.0.0.1, nothing else


def test_two_servers_get_different_tokens_and_ports(web_factory):
    a, b = web_factory(), web_factory()
    assert a.token != b.token and a.port != b.port


@pytest.mark.parametrize("path", ["/", "/static/app.js", "/static/app.css", "/api/events", "/nope", "/?token=wrong"])
def test_every_request_without_the_token_gets_401_and_no_data(web, path):
    event_id = emit("agent", "secret", summary="do not show").event_id
    status, headers, body = web.request(path, cookie=False)
    assert status == 401
    assert event_id.encode() not in body and b"do not show" not in body
    assert "set-cookie" not in headers
    # A wrong cookie is no better.
    wrong = web.token[:-1] + ("A" if web.token[-1] != "A" else "B")
    status, _, _ = web.request(path, cookie=False, headers={"Cookie": f"waitbus_web_{web.port}={wrong}"})
    assert status == 401, (web.token, wrong)


def test_the_token_becomes_an_httponly_samesite_strict_cookie(web):
    status, headers, _ = web.request(f"/?token={web.token}", cookie=False)
    assert status == 303 and headers["location"] == "/"
    assert headers["set-cookie"] == f"waitbus_web_{web.port}={web.token}; HttpOnly; SameSite=Strict; Path=/"
    status, headers, body = web.request("/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'data-max-rows="1000"' in body


def test_every_response_carries_a_strict_content_security_policy(web):
    for path, cookie in (("/", True), ("/static/app.js", True), ("/", False)):
        _, headers, _ = web.request(path, cookie=cookie)
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
        assert "unsafe" not in csp and "http" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"


def test_the_page_loads_nothing_from_elsewhere(web):
    _, _, page = web.request("/")
    assert b"http" not in page.replace(b'xmlns="http://www.w3.org', b"")
    _, _, script = web.request("/static/app.js")
    assert b"innerHTML" not in script and b"insertAdjacentHTML" not in script and b"eval(" not in script


def test_a_foreign_host_header_is_refused(web):
    status, _, _ = web.request("/", headers={"Host": f"evil.example:{web.port}"})
    assert status == 421


def test_stream_sends_matching_events_with_their_ids(web):
    stream = web.stream("?match=source%3D%22agent%22")
    hello = stream.until("hello")
    assert hello["data"]["specs"] == ['source="agent"'] and hello["id"] == hello["data"]["cursor"]
    ids = []
    for i in range(5):
        ids.append(emit("agent", "tick", fields={"i": i}).event_id)
        emit("other", "tick", fields={"i": i})
    got = stream.events(5)
    assert [m["id"] for m in got] == ids
    assert [m["data"]["event_id"] for m in got] == ids
    assert {m["data"]["source"] for m in got} == {"agent"}
    assert all(m["data"]["replay"] is False for m in got)
    assert stream.events(1, timeout=1) == []  # the "other" events never came
    stream.close()


def test_a_bad_filter_is_refused_with_the_grammars_own_message(web):
    with pytest.raises(PredicateError) as expected:
        Matcher(["fields.x=nope"])
    stream = web.stream("?match=fields.x%3Dnope")
    refused = stream.until("refused")
    assert refused["data"] == {"what": "filter", "error": str(expected.value)}
    assert stream.next(2) is None and stream.eof


def test_last_event_id_resumes_with_no_gap_and_no_duplicate(web):
    stream = web.stream()
    stream.until("hello")
    first = [emit("agent", "n", fields={"i": i}).event_id for i in range(4)]
    got = stream.events(4)
    assert [m["id"] for m in got] == first
    stream.close()
    missed = [emit("agent", "n", fields={"i": i}).event_id for i in range(4, 8)]
    again = web.stream(last_event_id=first[-1])
    hello = again.until("hello")
    assert hello["data"]["resumed"] is True and hello["data"]["cursor"] == first[-1]
    live = emit("agent", "n", fields={"i": 8}).event_id
    got = again.events(5)
    assert [m["id"] for m in got] == [*missed, live]
    assert [m["data"]["replay"] for m in got] == [True] * 4 + [False]
    assert again.events(1, timeout=1) == []
    again.close()


def test_since_a_time_replays_exactly_the_later_events_then_live(web):
    emit("agent", "too-early")
    time.sleep(0.01)
    since = ulid_floor(time.time_ns() // 1_000_000)
    time.sleep(0.01)
    earlier = [emit("agent", "earlier", fields={"i": i}).event_id for i in range(3)]
    stream = web.stream(f"?since={since}")
    assert stream.until("hello")["data"]["cursor"] == since
    live = emit("agent", "live").event_id
    got = stream.events(4)
    assert [m["id"] for m in got] == [*earlier, live]
    assert stream.events(1, timeout=1) == []
    stream.close()


def test_a_bad_since_is_refused(web):
    stream = web.stream("?since=yesterday")
    refused = stream.until("refused")
    assert refused["data"]["what"] == "since" and "'yesterday'" in refused["data"]["error"]


def test_a_slow_reader_is_dropped_told_why_and_resumes_losing_nothing(web_factory):
    web = web_factory("--lag-limit-bytes", "65536")
    stream = web.stream(rcvbuf=4096)  # a tiny window: the server's buffer fills fast
    stream.until("hello")
    pad = "x" * 30_000  # 12 MB: more than the kernel's socket buffers absorb (tcp_wmem tops at 4 MB)
    sent = [emit("agent", "big", fields={"i": i, "pad": pad}).event_id for i in range(400)]
    # Read it all only now: the events queued before the drop, then "behind", then EOF.
    got, behind = [], None
    while (msg := stream.next(30)) is not None:
        if msg["event"] == "message":
            got.append(msg["id"])
        elif msg["event"] == "behind":
            behind = msg
    assert behind is not None, f"never dropped after {len(got)} events"
    assert stream.eof and 0 < len(got) < len(sent)
    assert got == sent[: len(got)]
    # Resume from the cursor as a browser does, as often as it takes (a reader this slow
    # may fall behind again during the catch-up): every event arrives once, in order.
    while len(got) < len(sent):
        again = web.stream(last_event_id=got[-1])
        hello = again.until("hello")
        assert hello["data"]["resumed"] is True and hello["id"] == got[-1]
        while len(got) < len(sent) and (msg := again.next(30)) is not None:
            if msg["event"] == "message":
                got.append(msg["id"])
        again.close()
    assert got == sent


def test_stats_list_the_hubs_subscribers_with_their_lag(web):
    stream = web.stream()
    deadline = time.monotonic() + 20
    while True:  # the first refresh may come before the hub has counted the stream's subscription
        stats = stream.until("stats", timeout=15)["data"]
        mine = [c for c in stats["clients"] if c["this_server"]]
        if mine or time.monotonic() > deadline:
            break
    assert stats["hub"]["subscribers"] >= 1
    (mine,) = mine
    assert mine["pid"] == web.pid and "waitbus_web" in mine["command"]
    assert mine["state"] in ("live", "replay") and mine["queued_bytes"] >= 0
    stream.close()


def test_sigterm_stops_with_0_and_sigint_with_130(web_factory):
    assert web_factory().signal(signal.SIGTERM) == 0
    assert web_factory().signal(signal.SIGINT) == 130


def test_a_taken_port_exits_2_saying_so(hub):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        out = subprocess.run(
            [sys.executable, "-m", "waitbus_web", "--port", str(port)], capture_output=True, text=True, timeout=60
        )
    assert out.returncode == 2 and out.stdout == ""
    assert "cannot start" in out.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port must be 0-65535"),
        (["--max-rows", "5"], "--max-rows must be 10-100000"),
        (["--lag-limit-bytes", "10"], "--lag-limit-bytes must be at least 65536"),
    ],
)
def test_bad_flags_exit_2(args, message):
    out = subprocess.run([sys.executable, "-m", "waitbus_web", *args], capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and message in out.stderr and out.stdout == ""


def test_open_hands_the_tokened_url_to_the_browser(hub, tmp_path):
    opened = tmp_path / "opened"
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\nprintf %s "$1" > {opened}\n')
    browser.chmod(0o755)
    from tests._support.web import WebProcess

    web = WebProcess("--open", env={**os.environ, "BROWSER": str(browser)})
    try:
        deadline = time.monotonic() + 20
        while not (opened.exists() and opened.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert opened.read_text() == web.url
    finally:
        web.stop()

"""What unauthenticated senders may cost the real `waitbus listener serve` (issue 13,
item 3): a request without its route's auth header gets 401 from the headers alone;
bodies read before a signature check share one budget (503 + Retry-After past it) and
one whole-request deadline; the accept backlog absorbs a burst. Real listener
subprocess, real sockets, the real GitHub source; RSS is read from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests._support import github as gh
from tests._support import listener as lh
from tests._support.attacker import hold_connections_as_nobody
from waitbus_cli._listener_limits import IDLE_EVICT_S

pytestmark = pytest.mark.timeout(240)

TEN_MIB = 10 * 1024 * 1024
RSS_HEADROOM = 64 * 1024 * 1024
CHUNK = b"x" * 65536


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def head(path: str, length: int, headers: dict[str, str]) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.1 ") else 0


def read_all(s: socket.socket) -> bytes:
    chunks = []
    try:
        while chunk := s.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass  # the listener closed with our unread bytes pending: what came before stands
    return b"".join(chunks)


def post_big(port: int, headers: dict[str, str], results: list[int]) -> None:
    """Headers for a 10 MiB body, then the body at full speed; the status (0: none)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head("/webhook", TEN_MIB, headers))
        try:
            for _ in range(TEN_MIB // len(CHUNK)):
                s.sendall(CHUNK)
        except OSError:
            pass  # answered and closed before the body: the point
        try:
            results.append(status_of(s.recv(4096)))
        except OSError:
            results.append(0)


def signed_post_until_stored(port: int, body: bytes, guid: str, deadline_s: float) -> tuple[int, list[int]]:
    """A legitimate sender: retries a 503 after its Retry-After, like a queueing proxy."""
    statuses: list[int] = []
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        status, headers, _ = lh.call(port, "POST", "/webhook", body, gh.signed_headers(body, "workflow_run", guid))
        statuses.append(status)
        if status != 503:
            return status, statuses
        assert headers.get("retry-after") == "1"
        time.sleep(float(headers["retry-after"]))
    return 0, statuses


@pytest.fixture
def listener(reap, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> lh.Served:
    gh.stage_secret("github-webhook-secret", gh.SECRET)
    monkeypatch.setenv("WAITBUS_LISTENER__REQUEST_TIMEOUT", "3")
    return lh.serve(reap, tmp_path)


def test_a_missing_signature_is_401_from_the_headers_alone(listener: lh.Served) -> None:
    """No body byte is sent: the answer can only have come from the headers."""
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as s:
        s.sendall(head("/webhook", TEN_MIB, {"X-GitHub-Event": "workflow_run"}))
        answer = read_all(s)  # ends when the listener closes: the unread body is never taken as a request
        assert status_of(answer) == 401, answer
        assert b"x-hub-signature-256" in answer
    # Alertmanager's routes need a bearer token or a signature the same way.
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as s:
        s.sendall(head("/alertmanager", TEN_MIB, {}))
        assert status_of(read_all(s)) == 401


def test_forty_big_unsigned_and_forged_bodies_keep_rss_bounded_and_a_signed_delivery_lands(
    listener: lh.Served,
) -> None:
    delivery = gh.examples("workflow_run")[0]
    body = gh.body_of(delivery)
    pid = listener.proc.pid
    ping = b'{"zen": "warm up", "hook_id": 1}'
    assert lh.call(listener.port, "POST", "/webhook", ping, gh.signed_headers(ping, "ping", "warm"))[0] == 200
    before = rss(pid)
    peak = before
    sampling = True

    def sample() -> None:
        nonlocal peak
        while sampling:
            peak = max(peak, rss(pid))
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    unsigned: list[int] = []
    forged: list[int] = []
    forged_headers = {"X-GitHub-Event": "workflow_run", "X-Hub-Signature-256": "sha256=" + "00" * 32}
    attackers = [
        threading.Thread(target=post_big, args=(listener.port, {"X-GitHub-Event": "workflow_run"}, unsigned))
        for _ in range(40)
    ] + [threading.Thread(target=post_big, args=(listener.port, forged_headers, forged)) for _ in range(40)]
    try:
        for t in attackers:
            t.start()
        status, tries = signed_post_until_stored(listener.port, body, "during-the-attack", deadline_s=60)
        for t in attackers:
            t.join(120)
    finally:
        sampling = False
        sampler.join()
    print(f"listener RSS: {before / 2**20:.1f} MB before, {peak / 2**20:.1f} MB peak under 80 x 10 MiB")
    assert status == 200, tries
    assert sorted(set(unsigned)) == [401]
    assert set(forged) <= {401, 503} and 401 in forged  # forged: read within the budget, then refused
    assert peak - before <= RSS_HEADROOM, f"{before / 2**20:.1f} -> {peak / 2**20:.1f} MB"
    guids = {e["fields"].get("github_delivery") for e in gh.github_events()}
    assert "during-the-attack" in guids


def test_bodies_past_the_budget_get_503_with_retry_after(listener: lh.Served) -> None:
    """Five forged 10 MiB uploads that never finish: at most three fit the 32 MiB budget
    (they wait for their bodies until the 3 s deadline: 408), the others get 503 at once."""
    forged = {"X-GitHub-Event": "workflow_run", "X-Hub-Signature-256": "sha256=" + "00" * 32}
    answers: list[tuple[bytes, float]] = []

    def upload() -> None:
        started = time.monotonic()
        with socket.create_connection(("127.0.0.1", listener.port), timeout=20) as s:
            s.sendall(head("/webhook", TEN_MIB, forged) + b"x")
            answers.append((read_all(s), time.monotonic() - started))

    uploads = [threading.Thread(target=upload) for _ in range(5)]
    for t in uploads:
        t.start()
    for t in uploads:
        t.join(30)
    statuses = sorted(status_of(a) for a, _ in answers)
    assert statuses.count(503) >= 2 and set(statuses) <= {408, 503}, statuses
    for answer, took in answers:
        if status_of(answer) == 503:
            assert b"\r\nRetry-After: 1\r\n" in answer and took < 3, (answer, took)


def test_a_dribbling_sender_is_cut_off_by_the_whole_request_deadline(listener: lh.Served) -> None:
    """One byte every 0.2 s never trips the 30 s per-read timeout; the 3 s deadline does."""
    forged = {"X-GitHub-Event": "workflow_run", "X-Hub-Signature-256": "sha256=" + "00" * 32}
    for first, rest in (
        (head("/webhook", 100_000, forged), b"x" * 100_000),  # a dribbled body
        (b"POST /webhook HTTP/1.1\r\n", b"X-Padding: " + b"p" * 10_000),  # dribbled headers
    ):
        started = time.monotonic()
        answer = b""
        with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as s:
            s.sendall(first)
            for byte in rest:
                try:
                    s.sendall(bytes([byte]))
                except OSError:
                    break
                if time.monotonic() - started > 15:
                    break
                time.sleep(0.2)
                s.setblocking(False)
                try:
                    answer += s.recv(4096)
                except BlockingIOError:
                    pass
                except OSError:
                    break
                finally:
                    s.setblocking(True)
                if answer:
                    break
        took = time.monotonic() - started
        assert status_of(answer) == 408, (first[:30], answer)
        assert took < 8, f"cut off after {took:.1f} s"


def test_the_accept_backlog_absorbs_a_burst(listener: lh.Served) -> None:
    out = subprocess.run(
        ["ss", "-Hltn", f"sport = :{listener.port}"], capture_output=True, text=True, timeout=10, check=True
    )
    backlog = int(out.stdout.split()[2])  # Send-Q of a listening socket: its backlog
    assert backlog >= 128, out.stdout
    results: list[int] = []

    def ping() -> None:
        results.append(lh.call(listener.port, "GET", "/healthz")[0])

    burst = [threading.Thread(target=ping) for _ in range(100)]
    for t in burst:
        t.start()
    for t in burst:
        t.join(60)
    assert results == [200] * 100


def test_a_header_section_past_64_kib_is_431_before_the_rest_is_read(listener: lh.Served) -> None:
    """The stdlib alone would read 100 header lines of 64 KiB each (6.4 MB a request)."""
    line = b"X-Pad: " + b"p" * 60_000 + b"\r\n"
    with socket.create_connection(("127.0.0.1", listener.port), timeout=10) as s:
        s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\n" + line * 2)
        try:
            for _ in range(30):
                s.sendall(line)
        except OSError:
            pass  # answered and closed before the rest: the point
        answer = read_all(s)
    assert status_of(answer) == 431, answer[:200]
    assert lh.call(listener.port, "GET", "/healthz")[0] == 200


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user (nobody)")
def test_idle_connections_of_another_user_cost_at_most_256_threads(listener: lh.Served) -> None:
    """Loopback TCP is open to every local user. Each connection got a thread and a
    descriptor until the request timeout, without bound: 1,000 idle connections of
    `nobody` made ~1,000 threads. Now at most MAX_CONNECTIONS (256) are served at once,
    the rest are closed at once, and the listener answers again when they go."""
    pid = listener.proc.pid
    held, hold = hold_connections_as_nobody(listener.port, 1000)
    try:
        time.sleep(3)  # time to accept them all
        threads = len(os.listdir(f"/proc/{pid}/task"))
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        assert threads <= 256 + 16 and fds <= 256 + 64, (threads, fds)
    finally:
        os.close(hold)
        os.waitpid(held, 0)
    status, _, _ = lh.call(listener.port, "GET", "/healthz")
    assert status == 200


def test_a_delivery_lands_while_another_user_holds_every_slot_with_idle_connections(listener: lh.Served) -> None:
    """With every slot held by idle connections (here 1,000 of `nobody`, which never send
    a byte), a new connection was closed at once until they timed out (30 s): a webhook
    sent meanwhile was lost. Now the connection idle the longest gives way to it."""
    pid = listener.proc.pid
    held, hold = hold_connections_as_nobody(listener.port, 1000)
    try:
        deadline = time.monotonic() + 60
        while len(os.listdir(f"/proc/{pid}/task")) < 256:  # a thread per held connection
            assert time.monotonic() < deadline, "the listener never held 256 connections"
            time.sleep(0.1)
        time.sleep(IDLE_EVICT_S + 0.5)  # the held ones have been idle long enough to give way
        delivery = gh.examples("workflow_run")[0]
        body = gh.body_of(delivery)
        status, tries = signed_post_until_stored(listener.port, body, "while-slots-are-held", deadline_s=30)
        assert status == 200, tries
        assert len(os.listdir(f"/proc/{pid}/task")) <= 256 + 16  # still bounded
    finally:
        os.close(hold)
        os.waitpid(held, 0)
    guids = {e["fields"].get("github_delivery") for e in gh.github_events()}
    assert "while-slots-are-held" in guids

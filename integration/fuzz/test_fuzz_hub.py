"""A bounded fuzzer against a live hub: 10^4 clients (fixed seed, 8 at a time) each send
one malformed or hostile byte stream (refused lengths, frames torn anywhere, lengths that
disagree with their bodies, JSON nested past the stack, 64 KiB strings, wrong types,
invalid UTF-8, hostile `where` specs, garbage after a good subscribe), then shut their
side. Every client must get exactly what docs/wire.md promises for its first frame, and
afterwards the hub must still serve a normal subscriber, with its memory and descriptors
back near where they started and no traceback in its log."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import msgspec
import pytest

from tests._support import fuzz_cases as cases
from waitbus import emit
from waitbus._hubinfo import hub_stats
from waitbus_hub._server import FRAME_CACHE
from waitbus_wire import (
    MAX_VALUE_DEPTH,
    MAX_WHERE_COST,
    WHERE_TOO_EXPENSIVE,
    FrameDecoder,
    FrameError,
    HubStats,
    PredicateError,
    SubscribeError,
    decode_subscribe,
    encode_frame,
    parse_predicate,
    where_cost,
)

SEED = 20241126
CASES = 10_000
WARM_UP = 1_000  # RSS is measured after these, once the allocator has settled
RSS_GROWTH_KIB = 8 * 1024  # measured ~1 MiB; keeping ~1 KiB per client (a Subscriber) would fail it
WORKERS = 8


def expected(data: bytes) -> str:
    """What the hub must do with this client's bytes (docs/wire.md sections 2-3):
    'eof' (closed at our EOF, no reply, not counted), 'closed' (refused with no reply,
    counted in rejected_connections), 'version', 'where_too_expensive', 'stats' or 'ack'."""
    body = cases.first_frame(data)
    if body is None:
        return "eof"
    if body == b"":
        return "closed"
    try:
        sub = decode_subscribe(body)
        where = [parse_predicate(specs) for specs in sub.where or []]
    except SubscribeError as exc:
        return "version" if exc.version else "closed"
    except PredicateError:
        return "closed"
    if where_cost(where) > MAX_WHERE_COST:
        return WHERE_TOO_EXPENSIVE
    return "stats" if sub.op == "stats" else "ack"


def observed(path: str, data: bytes) -> str:
    """Send, shut our side, read to EOF; the first frame's kind, or 'eof'."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(15)
    try:
        s.connect(path)
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the hub refused us mid-send: what we read decides
        received = b""
        try:
            while chunk := s.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    finally:
        s.close()
    try:
        frames = FrameDecoder().feed(received)
    except FrameError:
        return f"torn stream {received[:40]!r}"
    if not frames:
        return "eof"
    first = msgspec.json.decode(frames[0])
    if first["kind"] == "subscribe_rejected":
        return str(first["reason"])
    return {"subscribe_ack": "ack", "hub_stats": "stats"}.get(first["kind"], first["kind"])


def stats() -> HubStats:
    got, why = hub_stats()
    assert got is not None, why
    return got


def nest(value: object, depth: int) -> object:
    for _ in range(depth):
        value = [value]
    return value


class Producer(threading.Thread):
    """Events meant to trip the hub's matching while the fuzz runs: one nested exactly as
    deep as the watcher's predicate, one far deeper, one with a long string."""

    def __init__(self) -> None:
        super().__init__()
        self.stop = threading.Event()
        self.count = 0
        self.matching: list[str] = []  # the ids the watcher must hear

    def run(self) -> None:
        shapes = [nest(1, MAX_VALUE_DEPTH), nest(1, 300), "x" * 4000]
        while not self.stop.is_set():
            result = emit("fuzz", "shape", fields={"a": shapes[self.count % 3], "i": self.count})
            if self.count % 3 == 0:
                self.matching.append(result.event_id)
            self.count += 1
            time.sleep(0.001)

    def wait_for(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.count < count:
            assert time.monotonic() < deadline, f"only {self.count} of {count} events emitted"
            time.sleep(0.01)


def run_cases(path: str, batch: list[bytes]) -> list[str]:
    with ThreadPoolExecutor(WORKERS) as pool:
        return list(pool.map(lambda d: observed(path, d), batch))


@pytest.mark.timeout(120)
def test_the_hub_survives_10k_malformed_clients_and_stays_bounded(hub, raw_client):
    rng = random.Random(SEED)
    batch = [cases.hub_case(rng) for _ in range(CASES)]
    want = [expected(d) for d in batch]
    path = str(hub.socket)
    rejected_before = stats().rejected_connections
    fds_before = cases.fd_count(hub.pid)

    # Long-lived subscribers while the fuzz runs: one whose predicate is as deep as the
    # grammar allows (it must hear exactly the events nested that deep), and one whose
    # predicate is deeper (refused: it used to be accepted and crash the hub's matcher).
    watcher, hostile = raw_client(), raw_client()
    watcher.subscribe(where=[[f"fields.a={json.dumps(nest(1, MAX_VALUE_DEPTH))}"]])
    hostile.send_raw(encode_frame(json.dumps({"where": [[f"fields.a={json.dumps(nest(1, 600))}"]]}).encode()))
    producer = Producer()
    producer.start()
    started = time.monotonic()
    try:
        got = run_cases(path, batch[:WARM_UP])
        # The hub keeps its newest FRAME_CACHE rows prepared (frame and decoded view), so
        # the baseline is taken once that cache is full of the producer's events.
        producer.wait_for(FRAME_CACHE + 100)
        rss_warm = cases.rss_kib(hub.pid)
        got += run_cases(path, batch[WARM_UP:])
    finally:
        producer.stop.set()
        producer.join(10)
    elapsed = time.monotonic() - started
    assert hostile.next(5) is None and hostile.eof
    heard = [f["event_id"] for f in watcher.events(len(producer.matching), timeout=20)]
    assert heard == producer.matching, f"the watcher heard {len(heard)} of {len(producer.matching)} events"
    watcher.close()

    # A refusal and our own EOF look alike from here (no reply, then EOF); the hub's
    # rejected_connections counter below tells them apart.
    seen_as = [{"closed": "eof"}.get(w, w) for w in want]
    wrong = [(i, w, g, batch[i][:60]) for i, (w, g) in enumerate(zip(seen_as, got, strict=True)) if w != g]
    assert not wrong, f"{len(wrong)} clients got the wrong answer (seed {SEED}); first: {wrong[:5]}"
    assert hub.proc.poll() is None, "the hub died"

    # The hub's own count agrees: every refusal, and nothing else, was counted.
    after = stats()
    assert after.rejected_connections == rejected_before + Counter(want)["closed"] + 1  # + the hostile one
    assert after.subscribers == 0

    # Bounded: descriptors back where they were, resident memory close to the warm figure.
    deadline = time.monotonic() + 10
    while cases.fd_count(hub.pid) > fds_before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cases.fd_count(hub.pid) <= fds_before
    rss_after = cases.rss_kib(hub.pid)
    assert rss_after - rss_warm < RSS_GROWTH_KIB, f"RSS {rss_warm} -> {rss_after} KiB"

    # And it still serves: a normal subscriber hears a freshly emitted event.
    client = raw_client()
    client.subscribe()
    sent = emit("fuzz", "after", fields={"cases": CASES}).event_id
    assert [f["event_id"] for f in client.events(1)] == [sent]
    log = Path(hub.log_path).read_text() if Path(hub.log_path).exists() else ""
    assert "Traceback" not in log and "unexpected error" not in log, log[-2000:]
    print(
        json.dumps(
            {
                "cases": CASES,
                "events": producer.count,
                "seconds": round(elapsed, 1),
                "outcomes": Counter(want),
                "rss_kib": [rss_warm, rss_after],
                "fds": [fds_before, cases.fd_count(hub.pid)],
            }
        )
    )

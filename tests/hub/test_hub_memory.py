"""The hub's memory: idle it stays within its 20 MB budget by importing little, and
its cache of prepared frames is bounded by bytes, not only by count, so a stream of
big events cannot grow it to hundreds of MB."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from waitbus import emit

BIG = "x" * 40_000  # near the 48 KiB fields limit
EVENTS = 400


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError(f"no VmRSS for pid {pid}")


def test_big_events_seen_by_a_predicate_subscriber_keep_the_hub_small(hub, raw_client):
    client = raw_client()
    # A hub-side predicate makes the hub decode each event's fields too (the largest
    # part of a cache entry).
    client.subscribe(where=[['fields.kind="big"']])
    # Emitted while the client reads: a reader that falls 8 MB behind is evicted.
    producer = threading.Thread(
        target=lambda: [emit("bench", "big", fields={"kind": "big", "i": i, "pad": BIG}) for i in range(EVENTS)]
    )
    producer.start()
    got = 0
    while got < EVENTS:
        frame = client.next(30)
        assert frame is not None, f"only {got} of {EVENTS} events arrived"
        if frame.get("kind") == "event":
            got += 1
    producer.join(30)
    # 400 x (row + frame + decoded fields) of ~40 KB each was ~55 MB with a count-only
    # cap; the byte cap (8 MiB charged) keeps the whole hub near its idle size.
    assert rss_mb(hub.pid) < 40


def test_a_serving_hub_imports_nothing_it_does_not_need(hub):
    """Every module costs resident memory for the hub's whole life: pathlib alone
    (with urllib.parse and ipaddress) was ~1 MB of a 20 MB budget."""
    maps = Path(f"/proc/{hub.pid}/maps").read_text()
    assert "pydantic_core" not in maps and "_cffi_backend" not in maps
    code = "import sys, waitbus_hub._main, waitbus_hub._server; print(sorted(set(sys.argv[1:]) & set(sys.modules)))"
    unwanted = ["pathlib", "typer", "pydantic", "prometheus_client", "platformdirs", "asyncio", "tempfile"]
    out = subprocess.run([sys.executable, "-c", code, *unwanted], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr

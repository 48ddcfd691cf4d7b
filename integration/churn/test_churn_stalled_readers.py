"""Subscribers that stop reading cost the hub at most its lag limit in memory: it
evicts them by bytes queued, and its resident size (VmRSS / VmHWM from /proc) never
grows with the volume of events they did not read.

(integration/test_hub_guarantees.py already checks that one stalled reader is evicted
while a healthy one keeps low latency; these check the hub's memory and fds.)"""

from __future__ import annotations

import socket

import pytest

from waitbus import emit

BLOB = "x" * 4000  # ~4.2 KB frames
WARM = 1200  # more than the hub's 1024-frame cache, so the baseline includes a full cache
EVENTS = 6000  # ~25 MB of frames: far more than the lag limit
STALLED = 5
MB = 1024  # in kB, as /proc reports


def _emit_reading(good, count: int, event_type: str) -> tuple[list[str], list[str]]:
    """Emit `count` events while the healthy raw client `good` keeps up (it reads as
    we go, or it would be evicted too). Returns (sent ids, ids `good` received)."""
    sent: list[str] = []
    got: list[str] = []
    for i in range(count):
        sent.append(emit("agent", event_type, fields={"i": i, "blob": BLOB}).event_id)
        if i % 100 == 99 or i == count - 1:
            got += [f["event_id"] for f in good.events(len(sent) - len(got), timeout=20)]
    return sent, got


def _flood(good, stalled_count: int, raw_client) -> tuple[list[str], list[str]]:
    """Connect `stalled_count` readers that never read, then emit EVENTS events."""
    for _ in range(stalled_count):
        stuck = raw_client()
        stuck.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.subscribe()
    return _emit_reading(good, EVENTS, "load")


def _warm_hub(hub_factory, raw_client, probe, lag_limit: int):
    hub = hub_factory(["--lag-limit-bytes", str(lag_limit), "--heartbeat-sec", "60"])
    p = probe(hub)
    good = raw_client()
    good.subscribe()
    sent, got = _emit_reading(good, WARM, "warm")
    assert got == sent
    return p, good


@pytest.mark.timeout(90)
def test_stalled_readers_are_evicted_and_hub_memory_stays_bounded(hub_factory, raw_client, probe):
    lag_limit = 1 << 20
    p, good = _warm_hub(hub_factory, raw_client, probe, lag_limit)
    fds_before = p.fds()
    base = p.rss_kb()
    p.reset_peak()

    sent, got = _flood(good, STALLED, raw_client)

    peak = p.peak_kb()
    stats = p.stats()
    assert stats["evictions"] == STALLED
    assert stats["subscribers"] == 1
    assert got == sent  # the healthy one: everything, once, in order
    # The stalled readers pinned at most ~lag limit of frames each (shared between
    # them), never the ~25 MB they missed.
    assert peak - base < 10 * MB, (base, peak)
    assert p.rss_kb() - base < 10 * MB
    assert p.settle(p.fds, fds_before) <= fds_before  # their sockets are closed
    assert p.log_problems() == []
    assert p.hub.log_text().count("evicting subscriber") == STALLED


@pytest.mark.timeout(90)
def test_the_probe_sees_queued_frames_when_the_limit_allows_them(hub_factory, raw_client, probe):
    """The control for the test above: with a lag limit larger than the flood, the
    same stalled readers are not evicted and the hub's peak RSS does grow past the
    bound asserted there. So that bound is a real measurement, not a constant."""
    p, good = _warm_hub(hub_factory, raw_client, probe, 64 << 20)
    base = p.rss_kb()
    p.reset_peak()

    sent, got = _flood(good, STALLED, raw_client)

    assert p.stats()["evictions"] == 0
    assert got == sent
    assert p.peak_kb() - base > 10 * MB

"""A subscriber that keeps sending after its subscribe frame (SECURITY.md, "Exhaustion").

The hub ignored such bytes but kept reading them, one recv per 64 KiB: two clients
writing as fast as they could (~1.8 GB/s here) went on for ever and took a normal
subscriber's p95 from 0.6 ms to 7 ms. Now a few stray bytes are still ignored, and a
client past 64 KiB of them is dropped.
"""

from __future__ import annotations

import socket
import time

import pytest

from waitbus import emit
from waitbus_wire import encode_frame

pytestmark = pytest.mark.timeout(60)


def test_a_subscriber_that_keeps_sending_is_dropped_and_stray_bytes_are_ignored(hub, raw_client) -> None:  # type: ignore[no-untyped-def]
    normal = raw_client()
    normal.subscribe()
    stray = raw_client()
    stray.subscribe()
    stray.send_raw(b"\x00\x00\x00\x00 a few stray bytes")  # ignored, as before

    flooder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    flooder.connect(str(hub.socket))
    flooder.sendall(encode_frame(b"{}"))
    junk = b"\0" * 65536
    sent, dropped_after = 0, None
    start = time.monotonic()
    flooder.settimeout(1)
    while time.monotonic() - start < 20:
        try:
            flooder.sendall(junk)
            sent += len(junk)
        except TimeoutError:
            continue  # the hub stopped reading: its buffer is full, the drop is coming
        except OSError:  # EPIPE / ECONNRESET: the hub closed us
            dropped_after = time.monotonic() - start
            break
    flooder.close()
    assert dropped_after is not None, f"still connected after sending {sent / 2**20:.0f} MiB for 20 s"

    emit("agent", "after_the_flood")
    assert [e["event_type"] for e in normal.events(1)] == ["after_the_flood"]
    assert [e["event_type"] for e in stray.events(1)] == ["after_the_flood"]
    assert "kept sending after its subscribe frame" in hub.log_text()

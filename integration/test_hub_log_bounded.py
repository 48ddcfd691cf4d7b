"""hub.log, which the SDK opens for a hub it starts in the background, is bounded: the
hub is told the file's name (WAITBUS_LOG_FILE) and rotates it by size."""

from __future__ import annotations

import os
import signal

import pytest

from tests._support import wait_until
from waitbus import wait_for
from waitbus_store import LOG_MAX_BYTES, resolve_paths


@pytest.mark.timeout(90)
def test_an_autostarted_hub_rotates_a_large_hub_log(monkeypatch):
    paths = resolve_paths()
    paths.ensure()
    paths.hub_log.write_bytes(b"an earlier hub said this\n" * (LOG_MAX_BYTES // 20))  # ~1.25 MiB
    monkeypatch.setenv("WAITBUS_NO_AUTOSTART", "0")
    assert wait_for('event_type="never"', timeout=0.2) is None  # starts a hub, then times out
    pid = int(paths.hub_lock.read_text())
    try:
        rotated = paths.hub_log.with_name("hub.log.1")
        wait_until(rotated.exists, "hub.log to be rotated")
        assert rotated.read_bytes().startswith(b"an earlier hub said this\n")
        assert paths.hub_log.stat().st_size < 64 * 1024
    finally:
        os.kill(pid, signal.SIGTERM)
    wait_until(lambda: not paths.socket.exists(), "the autostarted hub to stop")

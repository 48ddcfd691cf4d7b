"""A hub stopped the moment its socket appears (a supervisor's SIGTERM, a test's
teardown) drains and exits 0: the signal handlers are in place before it listens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from waitbus_store import resolve_paths


def test_sigterm_as_soon_as_the_socket_exists_is_a_clean_stop():
    sock = resolve_paths().socket
    for _ in range(8):
        proc = subprocess.Popen([sys.executable, "-m", "waitbus_hub", "--log-level", "WARNING"], env=os.environ.copy())
        try:
            deadline = time.monotonic() + 15
            while not sock.exists():
                assert proc.poll() is None and time.monotonic() < deadline, "the hub never listened"
                time.sleep(0.0005)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)

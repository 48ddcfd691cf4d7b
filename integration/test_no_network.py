"""SECURITY.md: "no outbound traffic by default". Under strace, the hub, the SDK and the
CLI's everyday verbs open only AF_UNIX sockets: no TCP, no UDP, no DNS lookup."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._support import WAITBUS
from waitbus_store import resolve_paths

STRACE = shutil.which("strace")
SDK = (
    "import waitbus\n"
    "sent = waitbus.emit('agent', 'traced', fields={'n': 1})\n"
    "assert waitbus.wait_for(source='agent', since=sent.event_id, timeout=1) is None\n"
    "assert waitbus.wait_for(source='agent', timeout=0.2) is None\n"
)


def traced(log: Path, *argv: str) -> list[str]:
    return [STRACE, "-f", "-qq", "-e", "trace=socket,connect,sendto,sendmsg,bind", "-o", str(log), *argv]


@pytest.mark.skipif(STRACE is None, reason="strace is not installed (tools/peers/strace.sh installs it)")
@pytest.mark.timeout(90)
def test_hub_sdk_and_cli_use_only_unix_sockets(tmp_path: Path) -> None:
    logs = [tmp_path / f"trace-{i}.txt" for i in range(7)]
    hub = subprocess.Popen(traced(logs[0], sys.executable, "-m", "waitbus_hub", "--log-level", "WARNING"))
    try:
        paths = resolve_paths()
        deadline = time.monotonic() + 20
        while not paths.socket.exists():
            assert hub.poll() is None and time.monotonic() < deadline, "the traced hub did not start"
            time.sleep(0.05)
        runs = [
            traced(logs[1], WAITBUS, "emit", "agent", "tick", "n=1"),
            traced(logs[2], WAITBUS, "wait", "--source", "agent", "--since", "1h", "--timeout", "5s"),
            traced(logs[3], WAITBUS, "on", "--source", "nobody", "--timeout", "100ms", "--", "true"),
            traced(logs[4], WAITBUS, "read-events", "list"),
            traced(logs[5], WAITBUS, "status"),
            traced(logs[6], sys.executable, "-c", SDK),
        ]
        codes = [subprocess.run(cmd, capture_output=True, text=True, timeout=60).returncode for cmd in runs]
        assert codes == [0, 0, 124, 0, 0, 0]
    finally:
        pid = int(paths.hub_lock.read_text().strip() or 0) if paths.hub_lock.exists() else 0
        if pid:
            os.kill(pid, signal.SIGTERM)
        hub.wait(20)
    found = {log.name: set(re.findall(r"\b(AF_[A-Z0-9]+)", log.read_text())) for log in logs}
    # The hub, emit (doorbell), wait, on and the SDK talk over unix sockets; read-events
    # and status may read the log directly and open none. Nothing else, anywhere.
    assert all(found[f"trace-{i}.txt"] == {"AF_UNIX"} for i in (0, 1, 2, 3, 6)), found
    assert set().union(*found.values()) == {"AF_UNIX"}, found

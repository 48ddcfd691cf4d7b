"""Subscriber worker processes and the stored load events of the bus delivery tests:
shared by integration/test_bus_delivery.py and the hub kill -9 fault test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from waitbus import emit
from waitbus_store import Store, resolve_paths

_WORKERS = Path(__file__).resolve().parents[2] / "integration"  # sub_worker.py, emit_worker.py


def start_subscriber(reap, out: Path, *args: str) -> subprocess.Popen[bytes]:
    proc = reap(
        subprocess.Popen([sys.executable, str(_WORKERS / "sub_worker.py"), str(out), *args], stdout=subprocess.PIPE)
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"ready"
    return proc


def finish(procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    emit("agent", "control", fields={"done": True})
    for proc in procs:
        assert proc.wait(timeout) == 0


def stored_ids() -> list[str]:
    with Store(resolve_paths().db) as store:
        return [r.event_id for r in store.read_after(0, 1_000_000) if r.event_type == "load"]

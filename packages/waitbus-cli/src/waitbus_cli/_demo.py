"""`waitbus demo`: the bus end to end, offline, in a throw-away state dir.

Phase 1 blocks a real wait_for (in its own process) on a hub and measures how long
the emitted event takes to unblock it. Phase 2 fans one synthesized event of each
local source kind out to a live subscriber. Nothing outside the temp dir is touched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

_WAITER = textwrap.dedent(
    """
    import sys, time
    from waitbus import subscribe
    # wait_for() is exactly subscribe() + get(); split here only so the demo
    # can say "ready" once the subscription is live.
    with subscribe('fields.conclusion="success"', source="github") as sub:
        print("ready", flush=True)
        frame = sub.get(30)
        t = time.time_ns()
    print(t if frame else "timeout", flush=True)
    """
)

_PHASE2: list[tuple[str, str, dict[str, Any]]] = [
    ("pytest", "pytest_session", {"outcome": "passed", "passed": 42, "failed": 0, "duration_s": 3.1}),
    ("docker", "docker_container", {"action": "die", "container": "web-1", "exit_code": 137}),
    ("fs", "fs_change", {"path": "src/app.py", "change": "modified"}),
]


def _say(text: str) -> None:
    print(text, flush=True)


def run(rounds: int = 5) -> int:
    with tempfile.TemporaryDirectory(prefix="waitbus-demo-") as tmp:
        os.environ["WAITBUS_STATE_DIR"] = str(Path(tmp) / "state")
        os.environ["WAITBUS_RUNTIME_DIR"] = str(Path(tmp) / "run")
        os.environ["WAITBUS_NO_AUTOSTART"] = "1"
        from waitbus import emit, subscribe
        from waitbus_store import resolve_paths

        _say(f"waitbus demo: temporary state in {tmp}")
        hub = subprocess.Popen([sys.executable, "-m", "waitbus_hub", "--log-level", "WARNING"])
        try:
            deadline = time.monotonic() + 10
            while not resolve_paths().socket.exists():
                if hub.poll() is not None or time.monotonic() > deadline:
                    _say("the hub did not start")
                    return 2
                time.sleep(0.01)
            _say(f"hub started (pid {hub.pid}) on {resolve_paths().socket}\n")
            _say("Phase 1: an agent blocks on wait_for(source=github, conclusion=success), zero polling.")
            latencies = []
            for i in range(rounds):
                waiter = subprocess.Popen([sys.executable, "-c", _WAITER], stdout=subprocess.PIPE, text=True)
                assert waiter.stdout is not None
                waiter.stdout.readline()  # "ready": subscribed
                time.sleep(0.2)  # let it go idle in select(), as a real waiter would be
                t0 = time.time_ns()
                emit(
                    "github",
                    "workflow_run",
                    owner="demo",
                    repo="app",
                    fields={
                        "status": "completed",
                        "conclusion": "success",
                        "run_id": 1000 + i,
                        "head_sha": "7f3a1b2c0ffee",
                    },
                    summary=f"[SYNTHESIZED] CI run {1000 + i} completed: success",
                )
                line = waiter.stdout.readline().strip()
                waiter.wait(10)
                if not line.isdigit():
                    _say("  the waiter timed out")
                    return 1
                latencies.append((int(line) - t0) / 1e3)
                _say(f"  [SYNTHESIZED github workflow_run] wait returned {latencies[-1]:.0f} us after emit() began")
            latencies.sort()
            _say(
                f"  event-to-unblock latency over {rounds} runs: median {latencies[len(latencies) // 2]:.0f} us, "
                f"max {latencies[-1]:.0f} us (emit commit + doorbell + hub fan-out + client decode)\n"
            )

            _say("Phase 2: one bus for every source. A live subscriber hears each kind:")
            with subscribe() as sub:
                for source, event_type, fields in _PHASE2:
                    _say(f"  --- SYNTHESIZED {source} event (no real {source} involved) ---")
                    emit(source, event_type, fields=fields, summary=f"[SYNTHESIZED] {source} {fields}")
                    frame = sub.get(timeout=5)
                    if frame is None:
                        _say("  subscriber heard nothing")
                        return 1
                    _say(f"  subscriber got {frame.source}/{frame.event_type} {frame.event_id}: {frame.fields}")
            _say("\nDone. Next: `make test`, or read README.md for real sources.")
            return 0
        finally:
            hub.send_signal(signal.SIGTERM)
            try:
                hub.wait(10)
            except subprocess.TimeoutExpired:
                hub.kill()

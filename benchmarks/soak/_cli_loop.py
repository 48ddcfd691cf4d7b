"""Repeated `waitbus wait` / `waitbus on` invocations, each of which must exit 0 on the
one event it waits for. Half of them start before their event is emitted, half after
(then `--since` must find it in the log)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import waitbus

CLI_SOURCE = "soak-cli"
WAITBUS = str(Path(sys.executable).parent / "waitbus")
TIMEOUT_S = 30  # the CLI's own --timeout; the child can never outlive the run by more


class CliLoop(threading.Thread):
    """Runs one CLI wait at a time until stopped. `gate` is held for each whole
    invocation: the run restarts the hub only between them, because with
    WAITBUS_NO_AUTOSTART=1 a wait that starts while no hub runs exits 2 by design."""

    def __init__(self, env: dict[str, str], run: str, gate: threading.Lock, every_s: float = 1.0) -> None:
        super().__init__(name="cli-loop", daemon=True)
        self.env, self.run_id, self.gate, self.every_s = env, run, gate, every_s
        self.stopping = threading.Event()
        self.results: list[dict[str, Any]] = []

    def run(self) -> None:
        k = 0
        while not self.stopping.is_set():
            verb = "on" if k % 5 == 4 else "wait"
            with self.gate:
                self.results.append(self._once(verb, f"{self.run_id}-{k}", emit_first=k % 2 == 0))
            k += 1
            self.stopping.wait(self.every_s)

    def _once(self, verb: str, token: str, *, emit_first: bool) -> dict[str, Any]:
        cmd = [WAITBUS, verb, "--source", CLI_SOURCE, "--match", f'fields.token="{token}"']
        cmd += ["--since", "2m", "--timeout", f"{TIMEOUT_S}s"]
        if verb == "on":
            cmd += ["--", "true"]
        if emit_first:
            waitbus.emit(CLI_SOURCE, "token", fields={"token": token})
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        if not emit_first:
            time.sleep(0.2)
            waitbus.emit(CLI_SOURCE, "token", fields={"token": token})
        try:
            code: int | str = proc.wait(TIMEOUT_S + 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            code = "hung"
        return {"verb": verb, "code": code, "emit_first": emit_first, "seconds": round(time.perf_counter() - t0, 3)}

    def stop(self) -> None:
        self.stopping.set()
        self.join(TIMEOUT_S + 60)


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for verb in ("wait", "on"):
        mine = [r for r in results if r["verb"] == verb]
        secs = sorted(r["seconds"] for r in mine)
        out[verb] = {
            "runs": len(mine),
            "exit_0": sum(1 for r in mine if r["code"] == 0),
            "failures": [r for r in mine if r["code"] != 0],
            "seconds_p50": secs[len(secs) // 2] if secs else None,
            "seconds_max": secs[-1] if secs else None,
        }
    return out

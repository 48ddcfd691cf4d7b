"""Whole-process cold start of the hot commands, against `python -c pass`.

The commands run round-robin (`runs` rounds after one warm-up round), so a burst of
load on a shared box hits them alike; each figure is the median wall time. Byte
code caching is on, as on a user's machine. `waitbus wait ... --timeout 1ms` is
start-up, connect, subscribe and the hub's ack (then exit 124 at once).
`waitbus-mcp` is timed from start to its `initialize` response on stdout (raw
JSON-RPC over the pipe, as an MCP client sends it); then its stdin is closed and
it must exit.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from _harness import BIN, BenchEnv, retire, spawn, wait_exit
from _stats import median_ms

MCP_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-06-18",
        "capabilities": {},
        "clientInfo": {"name": "waitbus-bench", "version": "0"},
    },
}

PASS = "python -c pass"


def commands() -> dict[str, list[str]]:
    py, wb = sys.executable, str(BIN / "waitbus")
    return {
        PASS: [py, "-c", "pass"],
        "python -c 'import waitbus'": [py, "-c", "import waitbus"],
        "python -c 'from waitbus import emit'": [py, "-c", "from waitbus import emit"],
        "python -c 'from waitbus import wait_for'": [py, "-c", "from waitbus import wait_for"],
        "waitbus emit agent tick n=1": [wb, "emit", "agent", "tick", "n=1"],
        "waitbus wait --source x --timeout 1ms": [wb, "wait", "--source", "x", "--timeout", "1ms"],
        "waitbus --help (typer)": [wb, "--help"],
    }


MCP = "waitbus-mcp to initialize response"


def _run(cmd: list[str], env: dict[str, str]) -> Callable[[], float]:
    def once() -> float:
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        return time.perf_counter() - t0

    return once


def _mcp(env: dict[str, str]) -> Callable[[], float]:
    request = json.dumps(MCP_INITIALIZE).encode() + b"\n"

    def once() -> float:
        t0 = time.perf_counter()
        proc = spawn(
            [str(BIN / "waitbus-mcp")],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(request)
            proc.stdin.flush()
            reply = proc.stdout.readline()
            secs = time.perf_counter() - t0
            if b'"result"' not in reply or b'"serverInfo"' not in reply:
                raise RuntimeError(f"waitbus-mcp: unexpected reply to initialize: {reply[:300]!r}")
            proc.stdin.close()
            wait_exit(proc, 10)
        finally:
            retire(proc)
        return secs

    return once


def startup(env: BenchEnv, runs: int) -> dict[str, Any]:
    """Median wall time of each command over `runs` round-robin rounds (the hub runs)."""
    child_env = env.env()
    child_env.pop("PYTHONDONTWRITEBYTECODE", None)  # users have .pyc files; so should the measurement
    timers = {name: _run(cmd, child_env) for name, cmd in commands().items()}
    timers[MCP] = _mcp(child_env)
    samples: dict[str, list[float]] = {name: [] for name in timers}
    for rnd in range(runs + 1):
        for name, once in timers.items():
            secs = once()
            if rnd:  # round 0 warms the page cache and writes the .pyc files
                samples[name].append(secs)
    med = {name: median_ms(s) for name, s in samples.items()}
    base = med[PASS]
    return {
        "runs": runs,
        "median_ms": med,
        "ratio_to_python": {name: round(ms / base, 2) for name, ms in med.items()},
        "import_waitbus_over_python_ms": round(med["python -c 'import waitbus'"] - base, 2),
    }

"""The benchmark suite (benchmarks/e2e.py) still runs: every scenario at tiny size
(`--smoke`), against real hub, worker, CLI and MCP processes, writing its JSON and
Markdown. Only completion and the report's shape are asserted, never a timing: the
figures of a smoke run mean nothing."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"

pytestmark = pytest.mark.slow


# What the issue asks to measure, one scenario each (benchmarks/_suite.py).
SCENARIOS = {
    "baselines",
    "idle",
    "latency",
    "wait_for",
    "cli_wait",
    "producers",
    "fanout",
    "emit",
    "replay",
    "polling",
    "startup",
}


def _load_stats() -> ModuleType:
    """benchmarks/_stats.py by path (benchmarks/ is scripts, not a package; this
    module imports only the standard library)."""
    spec = importlib.util.spec_from_file_location("waitbus_bench_stats", BENCH / "_stats.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _run(out: Path, *args: str) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "e2e.py"), "--smoke", "--out", str(out), *args],
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (report,) = out.glob("*.json")
    assert (out / report.name.replace(".json", ".md")).exists()
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def test_every_scenario_runs_and_reports(tmp_path: Path) -> None:
    report = _run(tmp_path)
    r = report["results"]
    assert set(report["scenarios"]) == SCENARIOS
    assert set(r) >= SCENARIOS, sorted(SCENARIOS - set(r))
    assert {"p50", "p99", "max"} <= set(r["latency"][0]["latency_us"])
    for key in ("wait_for", "cli_wait"):
        assert {"latency_us", "dist_us"} <= set(r[key])
    assert {"emits_per_s", "lost"} <= set(r["producers"][0])
    assert {"deliveries_per_s", "missing", "hub_memory_after"} <= set(r["fanout"][0])
    assert {"raw_client", "sdk_subscribe", "sqlite_scan"} <= set(r["replay"])
    assert {"ticks", "wakeups"} <= set(r["idle"]["cpu"]["waitbus_wait"])
    assert len(r["polling"]["pollers"]) == 2
    assert "waitbus-mcp to initialize response" in r["startup"]["median_ms"]
    assert {"unix_socket", "sqlite_wal", "python_rss"} <= set(r["baselines"])
    assert len(report["budgets"]) == 8
    assert {"nproc", "cpu_model", "kernel", "python", "date"} <= set(report["machine"])


def test_repeat_reports_the_median_and_each_run(tmp_path: Path) -> None:
    report = _run(tmp_path, "--only", "baselines,emit", "--repeat", "2")
    assert report["repeat"] == 2 and len(report["repeats"]) == 2
    assert set(report["results"]) >= {"baselines", "emit"}
    assert "latency" not in report["results"]


def test_merge_repeats_takes_medians_and_sums_losses() -> None:
    stats = _load_stats()
    runs = [
        {"x": 1.0, "missing": 0, "grid": [1, 5], "name": "a", "rows": [{"p50": 3}]},
        {"x": 3.0, "missing": 2, "grid": [3, 7], "name": "b", "rows": [{"p50": 9}]},
        {"x": 2.0, "missing": 1, "grid": [2, 6], "name": "c", "rows": [{"p50": 4}]},
    ]
    merged = stats.merge_repeats(runs)
    assert merged == {"x": 2.0, "missing": 3, "grid": [2, 6], "name": "a", "rows": [{"p50": 4}]}

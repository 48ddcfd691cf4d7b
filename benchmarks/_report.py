"""Machine facts, the Markdown table and the JSON file."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"

# The targets (see README.md): key -> (comparison, limit).
TARGETS: dict[str, tuple[str, float]] = {
    "lat10_p50": ("<=", 300),  # us, 10 subscriber processes
    "lat10_p99": ("<=", 1500),  # us, 10 subscriber processes
    "emit": ("<=", 100),  # us per emit() call
    "fanout": (">=", 50_000),  # deliveries/s to 10 subscriber processes
    "rss": ("<=", 20),  # MB, idle hub with 1 subscriber
}


def meets(key: str, value: float) -> bool:
    op, limit = TARGETS[key]
    return value <= limit if op == "<=" else value >= limit


def machine_info() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "kernel": platform.release(),
        "loadavg_at_start": [round(x, 2) for x in os.getloadavg()],
        "date": dt.datetime.now().astimezone().isoformat(timespec="seconds"),
    }


def write_json(report: dict[str, Any], quick: bool) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    day = dt.date.today().isoformat()
    path = RESULTS_DIR / f"e2e-{day}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def _lat_cell(scn: dict[str, Any]) -> str:
    lat = scn["latency_us"]
    return f"{lat['p50']:.0f} / {lat['p90']:.0f} / {lat['p99']:.0f} / {lat['max']:.0f}"


def _verdict(key: str, value: float) -> str:
    return "ok" if meets(key, value) else "**MISS**"


def markdown_table(report: dict[str, Any]) -> str:
    r = report["results"]
    rows: list[tuple[str, str, str, str]] = []
    for scn in r["latency"]:
        name = f"latency, {scn['subscribers']} sub(s) = {scn['processes']} proc x {scn['subscriptions_per_process']}"
        target, verdict = "", ""
        if scn["subscribers"] == 10:
            target = "p50 <= 300, p99 <= 1500"
            ok = meets("lat10_p50", scn["latency_us"]["p50"]) and meets("lat10_p99", scn["latency_us"]["p99"])
            verdict = "ok" if ok else "**MISS**"
        loss = f"; {scn['missing']} missing" if scn["missing"] else ""
        rows.append(
            (f"{name} @ {scn['target_rate']:.0f} ev/s (us, p50/p90/p99/max)", _lat_cell(scn) + loss, target, verdict)
        )
    b = r["fanout"]
    rows.append(
        (
            f"fan-out: {b['events']:,} events x {b['subscribers']} sub procs (deliveries/s)",
            f"{b['deliveries_per_s']:,} ({b['missing']} missing, span {b['span_s']} s)",
            ">= 50,000",
            _verdict("fanout", b["deliveries_per_s"]),
        )
    )
    rows.append(
        (
            "fan-out burst: emit rate / latency p50 / p99 (us)",
            f"{b['emit_rate_per_s']:,}/s / {b['latency_us']['p50']:.0f} / {b['latency_us']['p99']:.0f}",
            "",
            "",
        )
    )
    e = r["emit"]
    for key, label in (("with_hub", "hub running"), ("no_hub", "no hub")):
        cost = e[key]["per_call_us"]
        rows.append((f"emit() per call, {label} (us, median of runs)", f"{cost}", "<= 100", _verdict("emit", cost)))
    m = r["hub_memory"]
    rows.append(
        (
            "hub RSS idle, 1 subscriber (MB)",
            f"{m['idle']['VmRSS']}",
            "<= 20",
            _verdict("rss", m["idle"]["VmRSS"]),
        )
    )
    rows.append(
        ("hub RSS after burst / peak (MB)", f"{m['after_burst']['VmRSS']} / {m['after_burst']['VmHWM']}", "", "")
    )
    bl = r["baselines"]
    us = bl["unix_socket"]
    hops = " / ".join(str(us[k]["one_way_us"]) for k in ("unpinned", "same_core", "cross_core") if k in us)
    rows.append(("baseline: AF_UNIX one hop, unpinned / same core / cross core (us)", hops, "", ""))
    rows.append(
        ("baseline: SQLite WAL commit, synchronous=NORMAL (us)", f"{bl['sqlite_wal']['commit_p50_us']}", "", "")
    )
    ps = bl["python_startup"]
    rows.append(
        ("baseline: `python -c pass` / `import waitbus` (ms)", f"{ps['pass_ms']} / {ps['import_waitbus_ms']}", "", "")
    )
    noise = [f"{scn['cpu']['foreign_cores_busy']}" for scn in r["latency"]] + [f"{b['cpu']['foreign_cores_busy']}"]
    rows.append(("noise: other processes' CPU during latency runs / burst (cores busy)", " / ".join(noise), "", ""))
    lines = ["| figure | value | target | |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    mi = report["machine"]
    lines.append("")
    lines.append(
        f"{mi['date']}; {mi['nproc']} cores, {mi['cpu_model']}; Python {mi['python']}; "
        f"load average at start {mi['loadavg_at_start']}, at end {report.get('loadavg_at_end')}"
    )
    return "\n".join(lines)

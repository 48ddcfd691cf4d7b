"""Machine facts and the output files: JSON, the Markdown tables, the PNG plot."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any

import _plot
import _table

RESULTS_DIR = Path(__file__).resolve().parent / "results"


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


def machine_line(report: dict[str, Any]) -> str:
    mi = report["machine"]
    return (
        f"{mi['date']}; {mi['nproc']} cores, {mi['cpu_model']}; Linux {mi['kernel']}; Python {mi['python']}; "
        f"load average at start {mi['loadavg_at_start']}, at end {report.get('loadavg_at_end')}"
    )


def markdown(report: dict[str, Any], png: Path | None) -> str:
    r = report["results"]
    cfg = report["config"]
    parts = [
        f"## waitbus benchmark, {cfg['name']} run, {report['repeat']} repeat(s) (median across repeats)",
        "",
        machine_line(report),
        "",
        _table.figures_table(r),
        "",
        "### Budgets (issue #6)",
        "",
        _table.budgets_table(r),
    ]
    if png is not None:
        parts += ["", f"![latency distributions]({png.name})"]
    return "\n".join(parts) + "\n"


def write(report: dict[str, Any], stem: str, out_dir: Path) -> dict[str, Path]:
    """<out_dir>/<date>-<stem>.json, .md and (matplotlib installed) .png. A later run
    with the same name on the same day overwrites them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{dt.date.today().isoformat()}-{stem}.json"
    report["budgets"] = _table.budget_summary(report["results"])
    report["files"] = {"json": path.name, "md": path.with_suffix(".md").name, "png": path.with_suffix(".png").name}
    path.write_text(json.dumps(report, indent=2) + "\n")
    return render(path)


def render(path: Path) -> dict[str, Path]:
    """(Re-)draw the .md and .png of a JSON report beside it (`e2e.py --render FILE`)."""
    report = json.loads(path.read_text())
    files = {"json": path, "md": path.with_suffix(".md")}
    png = _plot.plot(report, path.with_suffix(".png"))
    if png is not None:
        files["png"] = png
    files["md"].write_text(markdown(report, png))
    return files

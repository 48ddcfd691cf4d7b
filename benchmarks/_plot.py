"""The PNG: latency distributions as CDFs (log time axis, logit percentile axis so
p99 and p99.9 get room) and the cold starts as bars, with the machine and date.

Drawn from the JSON report alone (its quantile grids), so an old report can be
re-drawn: `.venv/bin/python benchmarks/e2e.py --render results/<file>.json`.
matplotlib is a benchmark-only requirement (benchmarks/requirements.txt); without
it the run still writes the JSON and the tables, and says the plot was skipped.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from _stats import GRID


def distributions(r: dict[str, Any]) -> list[tuple[str, list[float]]]:
    """(label, quantile grid in us) for every latency distribution in the results."""
    out: list[tuple[str, list[float]]] = []
    for s in r.get("latency") or []:
        out.append((f"emit -> receive, {s['subscribers']} sub(s) @ {s['target_rate']:.0f}/s", s["dist_us"]))
    for b in r.get("fanout") or []:
        out.append((f"burst of {b['events']:,} -> {b['subscribers']} subs (queueing)", b["dist_us"]))
    if w := r.get("wait_for"):
        out.append(("emit -> wait_for() returns", w["dist_us"]))
    if c := r.get("cli_wait"):
        out.append(("emit -> `waitbus wait` exited", c["dist_us"]))
    if p := r.get("polling"):
        for poller in p["pollers"]:
            out.append((f"baseline: poll store every {poller['period_s']:g} s", poller["dist_us"]))
    return [(label, grid) for label, grid in out if len(grid) == len(GRID)]


def title(report: dict[str, Any]) -> str:
    mi = report["machine"]
    return (
        f"waitbus {report['config']['name']} run, {mi['date'][:16].replace('T', ' ')}; "
        f"{mi['nproc']} cores {mi['cpu_model']}, Linux {mi['kernel']}, Python {mi['python']}; "
        f"median of {report['repeat']} repeat(s)"
    )


def draw_cdfs(ax: Any, dists: list[tuple[str, list[float]]], title: str) -> None:
    """Latency CDFs on one axis: log time, logit percentiles (room for p99 and p99.9);
    labels with "baseline" dashed. Also drawn by peers.py, one axis per shape."""
    # Drop q=0 and q=1: a logit axis cannot show them.
    levels = GRID[1:-1]
    for label, grid in dists:
        ax.plot([max(v, 1.0) for v in grid[1:-1]], levels, label=label, linestyle="--" if "baseline" in label else "-")
    ax.set_xscale("log")
    ax.set_yscale("logit")
    ax.set_xlabel("latency (us, log scale)")
    ticks = [0.01, 0.1, 0.5, 0.9, 0.99, 0.999]
    ax.set_yticks(ticks, [f"p{100 * t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_ylabel("percentile (logit scale)")
    ax.grid(True, which="major", alpha=0.3)
    if dists:
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2)
    ax.set_title(title, fontsize=10)


def pyplot() -> Any | None:
    """matplotlib.pyplot on the file-only backend, or None (and say so) without it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot skipped: matplotlib is not installed (pip install -r benchmarks/requirements.txt)", file=sys.stderr)
        return None
    return plt


def plot(report: dict[str, Any], path: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
        return None
    r = report["results"]
    dists = distributions(r)
    starts = (r.get("startup") or {}).get("median_ms") or {}
    if not dists and not starts:
        return None
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(15, 8), gridspec_kw={"width_ratios": [3, 2]})
    draw_cdfs(ax, dists, "latency distributions (CDF)")
    names = list(starts)
    bars = bx.barh(names, [starts[n] for n in names], color="tab:blue")
    bx.bar_label(bars, fmt="%.0f ms", fontsize=8, padding=2)
    if "python -c pass" in starts:
        bx.axvline(starts["python -c pass"], color="gray", linestyle=":", label="python -c pass")
        bx.axvline(2 * starts["python -c pass"], color="red", linestyle=":", label="budget for `waitbus emit`: 2x")
        bx.legend(fontsize=8, loc="upper right")
    bx.invert_yaxis()
    bx.tick_params(axis="y", labelsize=8)
    bx.set_xlabel("median wall time (ms)")
    bx.set_title("cold start", fontsize=10)
    fig.suptitle(title(report), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path

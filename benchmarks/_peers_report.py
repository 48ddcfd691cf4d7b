"""peers.py's output: the tables (figures, ratios to each peer, the issue's goals
with met / missed) and the plot with every peer, machine and date in its title."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from _plot import draw_cdfs, pyplot
from _report import machine_line

OURS = "waitbus"


def _paced(r: dict[str, Any], peer: str, subs: int) -> dict[str, Any] | None:
    for s in (r.get("peers", {}).get(peer) or {}).get("paced") or []:
        if s["subscribers"] == subs and "failed" not in s:
            return dict(s)
    return None


def _burst(r: dict[str, Any], peer: str) -> dict[str, Any] | None:
    b = (r.get("peers", {}).get(peer) or {}).get("burst")
    return dict(b) if b and "failed" not in b else None


def _pq(s: dict[str, Any] | None, q: str) -> float | None:
    v = (s or {}).get("latency_us", {}).get(q)
    return float(v) if v is not None else None


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:,.0f}"


def _losses(s: dict[str, Any]) -> str:
    lost = s["missing"] + s["duplicates"] + s["out_of_order"]
    return "0 lost" if not lost else f"**{s['missing']} missing, {s['duplicates']} dup, {s['out_of_order']} reordered**"


def figures_table(report: dict[str, Any]) -> str:
    r = report["results"]
    shapes = report["config"]["sub_shapes"]
    head = "| peer | written before delivery | " + " | ".join(f"{n} sub p50 / p99 (us)" for n in shapes)
    head += " | burst: deliveries/s (losses) | CPU per event: server / publisher (us) |"
    rows = [head, "|" + "---|" * (len(shapes) + 4)]
    for name, p in r.get("peers", {}).items():
        if "skipped" in p:
            rows.append(f"| {name} | skipped: {p['skipped']} |" + " |" * (len(shapes) + 2))
            continue
        cells = []
        for n in shapes:
            s = _paced(r, name, n)
            cells.append("failed" if s is None else f"{_fmt(_pq(s, 'p50'))} / {_fmt(_pq(s, 'p99'))}" + _rate_note(s))
        b = _burst(r, name)
        burst = "failed"
        if b is not None:
            burst = f"{b['deliveries_per_s']:,} ({b['events']:,} x {b['subscribers']}; {_losses(b)})"
        one, cpu = _paced(r, name, shapes[0]) or b, "-"
        if one is not None:
            cpu = f"{one['cpu']['server_us_per_event']:.0f} / {one['cpu']['publisher_us_per_event']:.0f}"
        rows.append(f"| {name} | {p['durable'] or 'nothing'} | " + " | ".join(cells) + f" | {burst} | {cpu} |")
    return "\n".join(rows)


def _rate_note(s: dict[str, Any]) -> str:
    """Flag a shape whose publisher could not hold the schedule (its queueing is the figure)."""
    if s["achieved_rate"] < 0.9 * s["target_rate"]:
        return f" (sent {s['achieved_rate']:.0f}/s)"
    return "" if not s["missing"] else f" ({s['missing']} missing)"


def ratios_table(report: dict[str, Any]) -> str:
    """waitbus's figure divided by each peer's, same run: below 1.00 waitbus is faster."""
    r = report["results"]
    shapes = report["config"]["sub_shapes"]
    if OURS not in r.get("peers", {}) or "skipped" in r["peers"][OURS]:
        return "(waitbus not run)"
    head = "| waitbus / peer | " + " | ".join(f"{n} sub p50 / p99" for n in shapes) + " | burst deliveries/s |"
    rows = [head, "|" + "---|" * (len(shapes) + 2)]
    for name, p in r["peers"].items():
        if name == OURS or "skipped" in p:
            continue
        cells = []
        for n in shapes:
            ours, theirs = _paced(r, OURS, n), _paced(r, name, n)
            p50, p99 = _ratio(_pq(ours, "p50"), _pq(theirs, "p50")), _ratio(_pq(ours, "p99"), _pq(theirs, "p99"))
            cells.append(f"{p50} / {p99}")
        ob, tb = _burst(r, OURS), _burst(r, name)
        cells.append(_ratio((ob or {}).get("deliveries_per_s"), (tb or {}).get("deliveries_per_s")))
        rows.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}x"


def fs_table(r: dict[str, Any]) -> str:
    fs = r.get("fs") or {}
    if not fs:
        return "(not run)"
    rows = ["| file write -> the waiting process exited | p50 / p90 / p99 / max (us) | note |", "|---|---|---|"]
    labels = {
        "inotifywait": "`inotifywait -e close_write DIR`",
        "waitbus_debounce_0": "`waitbus wait --source fs` (watcher `--debounce 0`)",
        "waitbus_debounce_default": "`waitbus wait --source fs` (watcher's default 0.2 s debounce)",
    }
    for key, label in labels.items():
        f = fs.get(key) or {}
        if "skipped" in f or "latency_us" not in f:
            rows.append(f"| {label} | - | {f.get('skipped', 'not run')} |")
            continue
        lat = f["latency_us"]
        note = f"{f['failed']} failed" if f["failed"] else ""
        if "printed_us" in f:
            note = f"its event line printed at p50 {f['printed_us']['p50']:,.0f} us; the rest is its exit"
        rows.append(f"| {label} | {' / '.join(_fmt(lat[k]) for k in ('p50', 'p90', 'p99', 'max'))} | {note} |")
    return "\n".join(rows)


def goals(r: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue #18's goals, each with the two figures compared and met / missed."""
    out: list[dict[str, Any]] = []

    def add(goal: str, ours: float | None, limit: float | None, higher_is_better: bool = False) -> None:
        met = None
        if ours is not None and limit is not None:
            met = ours >= limit if higher_is_better else ours <= limit
        out.append({"goal": goal, "waitbus": ours, "limit": limit, "met": met})

    for n in (1, 10):
        for q in ("p50", "p99"):
            add(
                f"emit -> receive {q}, {n} subscriber process(es) <= Redis Streams' (us)",
                _pq(_paced(r, OURS, n), q),
                _pq(_paced(r, "redis-streams", n), q),
            )
    for n in (1, 10):
        add(
            f"emit -> receive p50, {n} subscriber process(es) <= NATS core's (us)",
            _pq(_paced(r, OURS, n), "p50"),
            _pq(_paced(r, "nats-core", n), "p50"),
        )
    ours_fan = (_burst(r, OURS) or {}).get("deliveries_per_s")
    for peer in ("redis-streams", "nats-core"):
        theirs = (_burst(r, peer) or {}).get("deliveries_per_s")
        add(f"fan-out deliveries/s to 10 subscribers >= {peer}'s", ours_fan, theirs, True)
    fs = r.get("fs") or {}
    ino = (fs.get("inotifywait") or {}).get("latency_us", {}).get("p50")
    ours_fs = (fs.get("waitbus_debounce_0") or {}).get("latency_us", {}).get("p50")
    add("file change -> `waitbus wait` exit p50 <= 3x inotifywait's (us)", ours_fs, 3 * ino if ino else None)
    return out


def goals_table(r: dict[str, Any]) -> str:
    rows = ["| goal (issue #18) | waitbus | limit | |", "|---|---|---|---|"]
    for g in goals(r):
        verdict = "met" if g["met"] else "**missed**" if g["met"] is False else "not measured"
        rows.append(f"| {g['goal']} | {_fmt(g['waitbus'])} | {_fmt(g['limit'])} | {verdict} |")
    return "\n".join(rows)


def markdown(report: dict[str, Any], png: Path | None) -> str:
    r = report["results"]
    cfg = report["config"]
    parts = [
        f"## waitbus against its peers, {cfg['name']} run",
        "",
        machine_line(report),
        "",
        f"Paced: {cfg['events']:,} events at {cfg['rate']:.0f}/s, open loop, one publisher process, "
        f"{', '.join(map(str, cfg['sub_shapes']))} subscriber processes. Burst: {cfg['burst_events']:,} events back "
        f"to back to {cfg['burst_subs']} subscriber processes"
        + f". waitbus-ref (0.2.0) gets {cfg['ref_events']:,} paced events and a burst of {cfg['ref_burst_events']:,}: "
        "it emits at ~50/s here, so the full sizes would take many minutes.",
        "",
        figures_table(report),
        "",
        "### Ratios (waitbus / peer, same run; below 1.00x waitbus is faster or, for bursts, slower)",
        "",
        ratios_table(report),
        "",
        "### File change -> the waiting process exited",
        "",
        fs_table(r),
        "",
        "### Goals (issue #18)",
        "",
        goals_table(r),
    ]
    if png is not None:
        parts += ["", f"![every peer]({png.name})"]
    return "\n".join(parts) + "\n"


def title(report: dict[str, Any]) -> str:
    mi = report["machine"]
    return (
        f"waitbus vs Redis, NATS, inotifywait and waitbus 0.2.0, {report['config']['name']} run, "
        f"{mi['date'][:16].replace('T', ' ')}; {mi['nproc']} cores {mi['cpu_model']}, Linux {mi['kernel']}, "
        f"Python {mi['python']}; load average at start {mi['loadavg_at_start'][0]}"
    )


def plot(report: dict[str, Any], path: Path) -> Path | None:
    plt = pyplot()
    if plt is None:
        return None
    r = report["results"]
    shapes = report["config"]["sub_shapes"]
    peers = [n for n, p in r.get("peers", {}).items() if "skipped" not in p]
    fig, axes = plt.subplots(2, max(3, len(shapes)), figsize=(20, 12))
    for ax, n in zip(axes[0], shapes, strict=False):
        dists = [(p, s["dist_us"]) for p in peers if (s := _paced(r, p, n)) and s["dist_us"]]
        draw_cdfs(ax, dists, f"emit -> receive, {n} subscriber process(es), {report['config']['rate']:.0f}/s")
    bx, fx, cx = axes[1][0], axes[1][1], axes[1][2]
    bursts = [(p, b["deliveries_per_s"]) for p in peers if (b := _burst(r, p))]
    bars = bx.barh([p for p, _ in bursts], [v for _, v in bursts], color="tab:blue")
    bx.bar_label(bars, fmt="{:,.0f}", fontsize=8, padding=2)
    bx.invert_yaxis()
    bx.set_xlabel("deliveries/s")
    cfg = report["config"]
    bx.set_title(f"burst of {cfg['burst_events']:,} to {cfg['burst_subs']} subscribers", fontsize=10)
    fs_runs = (r.get("fs") or {}).items()
    fs = [(k, v["latency_us"]["p50"] / 1000) for k, v in fs_runs if v.get("latency_us", {}).get("count")]
    bars = fx.barh([k for k, _ in fs], [v for _, v in fs], color="tab:green")
    fx.bar_label(bars, fmt="%.1f ms", fontsize=8, padding=2)
    fx.invert_yaxis()
    if fs:  # a log axis with nothing on it cannot be laid out
        fx.set_xscale("log")
    fx.set_xlabel("p50 (ms, log scale)")
    fx.set_title("file write -> waiting process exited", fontsize=10)
    cpu = [(p, s["cpu"]["server_us_per_event"]) for p in peers if (s := _paced(r, p, shapes[0]))]
    bars = cx.barh([p for p, _ in cpu], [v for _, v in cpu], color="tab:orange")
    cx.bar_label(bars, fmt="%.0f us", fontsize=8, padding=2)
    cx.invert_yaxis()
    cx.set_xlabel("server CPU per event (us, 10 ms ticks)")
    cx.set_title(f"server CPU per event, {shapes[0]} subscriber", fontsize=10)
    for ax in list(axes[0][len(shapes) :]) + list(axes[1][3:]):
        ax.axis("off")
    fig.suptitle(title(report), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def render(path: Path) -> dict[str, Path]:
    """(Re-)draw the .md and .png of a peers JSON report beside it."""
    report = json.loads(path.read_text())
    files = {"json": path, "md": path.with_suffix(".md")}
    png = plot(report, path.with_suffix(".png"))
    if png is not None:
        files["png"] = png
    files["md"].write_text(markdown(report, png))
    return files

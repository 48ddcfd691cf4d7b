"""Turning the run's raw records into windows, delivery checks and the Markdown table."""

from __future__ import annotations

import bisect
import itertools
import statistics
from typing import Any

from benchmarks.soak._load import SOURCES, source_of


def quantiles_ms(values_ns: list[int]) -> dict[str, float | int]:
    """count, p50, p99 and max in milliseconds."""
    if not values_ns:
        return {"count": 0}
    if len(values_ns) == 1:
        v = round(values_ns[0] / 1e6, 2)
        return {"count": 1, "p50": v, "p99": v, "max": v}
    q = statistics.quantiles(values_ns, n=100, method="inclusive")
    return {
        "count": len(values_ns),
        "p50": round(q[49] / 1e6, 2),
        "p99": round(q[98] / 1e6, 2),
        "max": round(max(values_ns) / 1e6, 2),
    }


def latency_windows(
    subs: list[dict[str, Any]], bounds_ns: list[int], outages_ns: list[tuple[int, int]]
) -> list[dict[str, Any]]:
    """End-to-end latency per sampling window (all persistent subscribers together),
    by receive time. Window k is [bounds[k], bounds[k+1]); later receipts count in
    the last one. A window that overlaps a hub outage (restart, then the backlog
    catching up) is marked: its tail is the outage, not the hub's steady state."""
    lats: list[list[int]] = [[] for _ in range(max(0, len(bounds_ns) - 1))]
    for sub in subs:
        for recv, lat in zip(sub["recv_ns"], sub["lat_ns"], strict=True):
            k = min(max(0, bisect.bisect_right(bounds_ns, recv) - 1), len(lats) - 1)
            if lats:
                lats[k].append(lat)
    out = []
    for k, values in enumerate(lats):
        lo, hi = bounds_ns[k], bounds_ns[k + 1]
        out.append(
            {
                "window": k,
                "start_s": round((lo - bounds_ns[0]) / 1e9, 1),
                "restart": any(lo < end and start < hi for start, end in outages_ns),
                **quantiles_ms(values),
            }
        )
    return out


def _expected(mode: str, emitters: list[dict[str, Any]]) -> set[tuple[int, int]]:
    out = set()
    for rec in emitters:
        e = rec["emitter"]
        failed = {i for i, _ in rec["failed"]}
        for i in range(rec["count"]):
            if i in failed:
                continue
            if mode == "all" or (mode == "where" and e == 0) or (mode == "source" and source_of(e, i) == SOURCES[1]):
                out.add((e, i))
    return out


def delivery_check(sub: dict[str, Any], emitters: list[dict[str, Any]]) -> dict[str, Any]:
    """Exactly once, in order, per emitter: what a persistent subscriber must see."""
    seen = [(e, i) for e, i in sub["seen"]]
    unique = set(seen)
    expected = _expected(sub["mode"], emitters)
    per_emitter: dict[int, list[int]] = {}
    for e, i in seen:
        per_emitter.setdefault(e, []).append(i)
    return {
        "name": sub["name"],
        "mode": sub["mode"],
        "ended": sub["ended"],
        "expected": len(expected),
        "received": len(seen),
        "lost": len(expected - unique),
        "duplicated": len(seen) - len(unique),
        "unexpected": len(unique - expected),
        "out_of_order": sum(1 for ii in per_emitter.values() for a, b in itertools.pairwise(ii) if b < a),
        "reconnect_failures": sub["reconnect_failures"],
        "latency_ms": quantiles_ms(sub["lat_ns"]),
    }


def _drift(first: float | None, last: float | None, unit: str) -> list[str]:
    if first is None or last is None:
        return ["n/a", "n/a", "n/a"]
    return [f"{first:g}", f"{last:g}", f"{last - first:+.2f} {unit}"]


def markdown(report: dict[str, Any]) -> str:
    r = report["results"]
    samples = [s for s in r["samples"] if s.get("rss_mb") is not None]
    final_life = [s for s in samples if s["pid"] == samples[-1]["pid"]] if samples else []
    # A new hub starts small and fills its caches under load: skip its first minute.
    settled = [s for s in final_life if s["t_s"] >= final_life[0]["t_s"] + 60] or final_life
    half = samples[len(samples) // 2 :]
    calm = [w for w in r["windows"] if not w["restart"] and w.get("count")]
    # One window's p99 is noisy on a shared box; the median over a minute of them is not.
    minute = max(1, round(60 / report["config"]["sample_sec"]))
    p99s = [w["p99"] for w in calm]
    first_min = statistics.median(p99s[:minute]) if p99s else None
    last_min = statistics.median(p99s[-minute:]) if p99s else None
    rows = [
        ["hub RSS, MB (whole run)", *_drift(_at(samples, 0, "rss_mb"), _at(samples, -1, "rss_mb"), "MB")],
        [
            "hub RSS, MB (last hub life, after its first minute)",
            *_drift(_at(settled, 0, "rss_mb"), _at(settled, -1, "rss_mb"), "MB"),
        ],
        ["hub RSS, MB (second half of the run)", *_drift(_at(half, 0, "rss_mb"), _at(half, -1, "rss_mb"), "MB")],
        ["hub open fds (whole run)", *_drift(_at(samples, 0, "fds"), _at(samples, -1, "fds"), "fds")],
        ["latency p99, ms (windows without a restart)", *_drift(_at(calm, 0, "p99"), _at(calm, -1, "p99"), "ms")],
        ["latency p99, ms (median of the first / last minute's windows)", *_drift(first_min, last_min, "ms")],
    ]
    lines = ["| figure | first window | last window | drift |", "|---|---|---|---|"]
    lines += [f"| {' | '.join(str(c) for c in row)} |" for row in rows]
    t = r["totals"]
    lines += ["", "| total | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in t.items()]
    return "\n".join(lines)


def _at(rows: list[dict[str, Any]], k: int, key: str) -> float | None:
    return rows[k].get(key) if rows else None

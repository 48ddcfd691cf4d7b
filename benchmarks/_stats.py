"""Numbers: percentiles of a sample, the quantile grid the plot draws, and the
median across repeated runs (`e2e.py --repeat N`)."""

from __future__ import annotations

import statistics
from typing import Any

# Quantile levels kept per latency distribution (for the CDF plot): every percent,
# then the tail.
GRID = [i / 100 for i in range(100)] + [0.995, 0.999, 1.0]

# Counters that must never be hidden by a median: across repeats they are summed.
LOSS_KEYS = frozenset(
    {"missing", "duplicates", "out_of_order", "timed_out_subscribers", "hub_evictions", "lost", "failed"}
)


def percentiles_us(values_ns: list[int]) -> dict[str, float]:
    """count, p50/p90/p99/max and mean of nanosecond samples, in microseconds."""
    if not values_ns:
        return {"count": 0}
    if len(values_ns) == 1:
        v = round(values_ns[0] / 1000, 1)
        return {"count": 1, "p50": v, "p90": v, "p99": v, "max": v, "mean": v}
    q = statistics.quantiles(values_ns, n=100, method="inclusive")
    return {
        "count": len(values_ns),
        "p50": round(q[49] / 1000, 1),
        "p90": round(q[89] / 1000, 1),
        "p99": round(q[98] / 1000, 1),
        "max": round(max(values_ns) / 1000, 1),
        "mean": round(statistics.fmean(values_ns) / 1000, 1),
    }


def grid_us(values_ns: list[int]) -> list[float]:
    """The sample's value (us) at each GRID level: the plot's CDF, small enough for the JSON."""
    if not values_ns:
        return []
    s = sorted(values_ns)
    last = len(s) - 1
    out = []
    for q in GRID:
        pos = q * last
        lo = int(pos)
        hi = min(lo + 1, last)
        out.append(round((s[lo] + (s[hi] - s[lo]) * (pos - lo)) / 1000, 1))
    return out


def median_ms(samples_s: list[float]) -> float:
    return round(statistics.median(samples_s) * 1000, 2)


def merge_repeats(runs: list[Any], key: str = "") -> Any:
    """One result from N repeats of the same scenario: numbers -> median (loss
    counters -> sum, so a loss in any repeat shows), dicts and equal-length lists
    element by element, anything else from the first run."""
    first = runs[0]
    if len(runs) == 1:
        return first
    if isinstance(first, bool) or first is None or isinstance(first, str):
        return first
    if isinstance(first, int | float):
        nums = [r for r in runs if isinstance(r, int | float) and not isinstance(r, bool)]
        if len(nums) != len(runs):
            return first
        if key in LOSS_KEYS:
            return sum(nums)
        med = statistics.median(nums)
        return round(med, 3) if isinstance(med, float) else med
    if isinstance(first, dict):
        return {k: merge_repeats([r[k] for r in runs if isinstance(r, dict) and k in r], k) for k in first}
    if isinstance(first, list) and all(isinstance(r, list) and len(r) == len(first) for r in runs):
        return [merge_repeats([r[i] for r in runs], key) for i in range(len(first))]
    return first

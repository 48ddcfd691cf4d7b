"""The Markdown tables: every figure with its ratio to the baseline it is read
against, and the issue's budgets with met / missed. Scenarios not run are skipped."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from _startup import MCP, PASS

Row = tuple[str, str, str, str, str]  # figure, value, vs baseline, budget, verdict


def dig(d: Any, *keys: Any) -> Any:
    """d[k1][k2]... or None when any step is missing."""
    for k in keys:
        if (isinstance(d, dict) and k in d) or (isinstance(d, list) and isinstance(k, int) and -len(d) <= k < len(d)):
            d = d[k]
        else:
            return None
    return d


def _by(items: Any, **want: Any) -> dict[str, Any] | None:
    """The first dict in a result list whose keys have the wanted values."""
    for item in items or []:
        if all(item.get(k) == v for k, v in want.items()):
            return dict(item)
    return None


class Floor:
    """The same run's baselines, and the ratios each figure is given against them."""

    def __init__(self, r: dict[str, Any]) -> None:
        bl = r.get("baselines") or {}
        self.hop_us = dig(bl, "unix_socket", "unpinned", "one_way_us")
        self.commit_us = dig(bl, "sqlite_wal", "commit_p50_us")
        # emit -> receive can be no faster than one commit and two hops (producer ->
        # hub doorbell, hub -> subscriber).
        self.latency_us = self.commit_us + 2 * self.hop_us if self.hop_us and self.commit_us else None
        self.py_ms = dig(r, "startup", "median_ms", PASS)
        self.py_rss = dig(bl, "python_rss", "VmRSS")
        pollers = dig(r, "polling", "pollers") or []
        self.poll = min(pollers, key=lambda p: p["period_s"]) if pollers else None

    def latency(self, p50_us: float | None) -> str:
        if not p50_us:
            return ""
        parts = []
        if self.latency_us:
            parts.append(f"{p50_us / self.latency_us:.1f}x floor")
        poll_p50 = dig(self.poll, "latency_us", "p50")
        if poll_p50:
            parts.append(f"{poll_p50 / p50_us:,.0f}x faster than poll@{self.poll['period_s']:g}s")  # type: ignore[index]
        return "; ".join(parts)

    def startup(self, ms: float | None) -> str:
        return f"{ms / self.py_ms:.2f}x `python -c pass`" if ms and self.py_ms else ""


def _lat(p: dict[str, Any] | None, scale: float = 1.0, keys: tuple[str, ...] = ("p50", "p90", "p99", "max")) -> str:
    if not p or not p.get("count"):
        return "-"
    return " / ".join(f"{p[k] / scale:,.0f}" if p[k] / scale >= 10 else f"{p[k] / scale:.2g}" for k in keys)


def _latency_rows(r: dict[str, Any], f: Floor) -> list[Row]:
    rows: list[Row] = []
    for s in r.get("latency") or []:
        lat = s["latency_us"]
        budget, verdict = "", ""
        if s["subscribers"] == 10:
            budget = "p50 <= 300, p99 <= 1500"
            verdict = _verdict(BUDGETS["lat10_p50"].met(r) and BUDGETS["lat10_p99"].met(r))
        loss = f" ({s['missing']} missing)" if s["missing"] else ""
        name = f"emit -> receive, {s['subscribers']} sub(s) = {s['processes']} proc x {s['subscriptions_per_process']}"
        rows.append(
            (
                f"{name} @ {s['target_rate']:.0f} ev/s (us: p50 / p90 / p99 / max)",
                _lat(lat) + loss,
                f.latency(lat["p50"]),
                budget,
                verdict,
            )
        )
    if w := r.get("wait_for"):
        lat = w["latency_us"]
        rows.append(
            ("emit -> `wait_for()` returns (us: p50 / p90 / p99 / max)", _lat(lat), f.latency(lat.get("p50")), "", "")
        )
    exits = {"cli_wait": "`waitbus wait` process exited", "cli_on": "`waitbus on ... -- true` ran it, exited"}
    for key, what in exits.items():
        if not (c := r.get(key)):
            continue
        lat = c["latency_us"]
        fail = f" ({c['failed']} failed)" if c["failed"] else ""
        label = f"emit -> {what} (us: p50 / p90 / p99 / max)"
        rows.append((label, _lat(lat) + fail, f.latency(lat.get("p50")), "", ""))
        if key == "cli_wait":
            sub = dig(c, "start_to_subscribed_us", "p50")
            total = c["start_emit_exit_p50_ms"]
            rows.append(
                (
                    "`waitbus wait`: start -> subscribed / start + emit + exit, p50 (ms)",
                    f"{sub / 1000:.1f} / {total:.1f}" if sub else "-",
                    f.startup(total),
                    "",
                    "",
                )
            )
    return rows


def _throughput_rows(r: dict[str, Any], f: Floor) -> list[Row]:
    rows: list[Row] = []
    prods = r.get("producers") or []
    one = _by(prods, processes=1)
    for p in prods:
        ratio = []
        if f.commit_us:
            ratio.append(f"{p['emits_per_s'] * f.commit_us / 1e6:.2f}x bare SQLite commit rate")
        if one and p is not prods[0]:
            ratio.append(f"{p['emits_per_s'] / one['emits_per_s']:.2f}x 1 process")
        rows.append(
            (
                f"emit() throughput, {p['processes']} producer process(es) (events/s)",
                f"{p['emits_per_s']:,} ({p['lost']} lost)",
                "; ".join(ratio),
                "",
                "",
            )
        )
    for b in r.get("fanout") or []:
        budget = ">= 50,000" if b["subscribers"] == 10 else ""
        rows.append(
            (
                f"fan-out: {b['events']:,} events x {b['subscribers']} subs "
                f"({b['processes']} proc x {b['subscriptions_per_process']}) (deliveries/s)",
                f"{b['deliveries_per_s']:,} ({b['missing']} missing, {b['hub_evictions']} evictions); "
                f"latency p50/p99 {_lat(b['latency_us'], 1000, ('p50', 'p99'))} ms",
                f"{b['deliveries_per_s'] / (b['emit_rate_per_s'] * b['subscribers']):.2f}x producer rate x subs",
                budget,
                _verdict(BUDGETS["fanout10"].met(r)) if budget else "",
            )
        )
    if rp := r.get("replay"):
        raw, sdk, scan = rp["raw_client"], rp["sdk_subscribe"], rp["sqlite_scan"]
        rows.append(
            (
                f"replay {rp['events']:,} events from a cursor: raw socket / SDK subscribe (events/s)",
                f"{raw['events_per_s']:,} / {sdk['events_per_s']:,} (caught up in {raw['caught_up_s']} / "
                f"{sdk['caught_up_s']} s; {raw['lost'] + sdk['lost']} lost)",
                f"raw {raw['events_per_s'] / scan['events_per_s']:.2f}x SQLite scan ({scan['events_per_s']:,}/s)",
                "",
                "",
            )
        )
    return rows


def _cost_rows(r: dict[str, Any], f: Floor) -> list[Row]:
    rows: list[Row] = []
    for key, label in (("with_hub", "hub running"), ("no_hub", "no hub")):
        if cost := dig(r, "emit", key, "per_call_us"):
            vs = f"{cost / f.commit_us:.1f}x SQLite commit" if f.commit_us else ""
            ok = _verdict(BUDGETS["emit"].met(r)) if key == "with_hub" else ""
            rows.append((f"emit() per call, {label} (us)", f"{cost}", vs, "<= 100" if ok else "", ok))
    if st := r.get("startup"):
        for name, ms in st["median_ms"].items():
            budget, verdict = "", ""
            if name.startswith("waitbus emit"):
                budget, verdict = "<= 2x python", _verdict(BUDGETS["cli_emit"].met(r))
            elif name == "python -c 'import waitbus'":
                budget, verdict = "<= python + 15 ms", _verdict(BUDGETS["import"].met(r))
            label = "baseline: `python -c pass`" if name == PASS else f"cold start: `{name}`"
            if name == MCP:
                label = "cold start: `waitbus-mcp` to its `initialize` response"
            rows.append((f"{label} (ms)", f"{ms}", f.startup(ms) if name != PASS else "", budget, verdict))
    if idle := dig(r, "idle", "rss", "VmRSS"):
        vs = f"{idle / f.py_rss:.1f}x bare interpreter ({f.py_rss} MB)" if f.py_rss else ""
        rows.append(("hub RSS idle, 1 subscriber (MB)", f"{idle}", vs, "<= 20", _verdict(BUDGETS["rss"].met(r))))
    for b in r.get("fanout") or []:
        mem = b["hub_memory_after"]
        vs = f"{mem['VmHWM'] / idle:.2f}x idle" if idle else ""
        rows.append(
            (
                f"hub RSS after the {b['subscribers']}-sub burst / peak so far (MB)",
                f"{mem['VmRSS']} / {mem['VmHWM']}",
                vs,
                "",
                "",
            )
        )
    if mem := dig(r, "replay", "hub_memory_after"):
        rows.append(
            ("hub RSS after replaying to 3 readers / peak (MB)", f"{mem['VmRSS']} / {mem['VmHWM']}", "", "", "")
        )
    poll_cpu = dig(f.poll, "cpu_ms_per_min")
    for key, label in (("hub", "hub"), ("waitbus_wait", "idle `waitbus wait`")):
        if c := dig(r, "idle", "cpu", key):
            vs = f"poll@{f.poll['period_s']:g}s: {poll_cpu} ms/min" if poll_cpu is not None and f.poll else ""
            budget, verdict = ("0 ticks", _verdict(BUDGETS["idle_wait"].met(r))) if key == "waitbus_wait" else ("", "")
            rows.append(
                (
                    f"CPU of the {label} while nothing happens ({c['window_s']:g} s): ticks / ms per min / wake-ups",
                    f"{c['ticks']} / {c['cpu_ms_per_min']} / {c['wakeups']}",
                    vs,
                    budget,
                    verdict,
                )
            )
    return rows


def _baseline_rows(r: dict[str, Any], f: Floor) -> list[Row]:
    rows: list[Row] = []
    if pl := r.get("polling"):
        bus = pl["bus"]
        bus_p50 = dig(bus, "latency_us", "p50")
        for p in pl["pollers"]:
            lat = p["latency_us"]
            ratio = f"{lat['p50'] / bus_p50:,.0f}x the bus p50" if bus_p50 and lat.get("p50") else ""
            rows.append(
                (
                    f"baseline: poll the store every {p['period_s']:g} s: detection mean / p50 / p99 (ms)",
                    _lat(lat, 1000, ("mean", "p50", "p99")) + (f" ({p['missing']} missing)" if p["missing"] else ""),
                    ratio,
                    "",
                    "",
                )
            )
            rows.append(
                (
                    f"baseline: that {p['period_s']:g} s poller's CPU ms per min / wake-ups per min",
                    f"{p['cpu_ms_per_min']} / {p['wakeups_per_min']}",
                    f"bus subscriber: {bus['cpu_ms_per_min']} ms/min",
                    "",
                    "",
                )
            )
        rows.append(
            (
                f"bus subscriber on the same {pl['events']} events (us p50 / p99; CPU ms per min)",
                f"{_lat(bus['latency_us'], 1, ('p50', 'p99'))}; {bus['cpu_ms_per_min']}",
                f.latency(bus_p50),
                "",
                "",
            )
        )
    if us := dig(r, "baselines", "unix_socket"):
        hops = " / ".join(str(us[k]["one_way_us"]) for k in ("unpinned", "same_core", "cross_core") if k in us)
        rows.append(("baseline: AF_UNIX one hop, unpinned / same core / cross core (us)", hops, "", "", ""))
    if f.commit_us:
        rows.append(("baseline: SQLite WAL commit, synchronous=NORMAL (us)", f"{f.commit_us}", "", "", ""))
    if f.latency_us:
        rows.append(("baseline: floor for emit -> receive = 1 commit + 2 hops (us)", f"{f.latency_us:.1f}", "", "", ""))
    if f.py_rss:
        rows.append(("baseline: bare interpreter RSS (MB)", f"{f.py_rss}", "", "", ""))
    return rows


def _scale_rows(r: dict[str, Any]) -> list[Row]:
    """Issue #18 item 4: how cost grows with log size, event size and subscribers."""
    sc = r.get("scale")
    if not sc:
        return []
    empty, full, rows_n = sc["log_empty"], sc["log_full"], f"{sc['rows']:,}"
    # "Flat within 20%": the big log may cost at most 1.2x the empty one (faster is noise).
    emit_flat, rss_flat = sc["emit_full_over_empty"] <= 1.2, sc["hub_rss_full_over_empty"] <= 1.2
    rp, many = sc["replay"], sc["many"]
    raw, sdk = rp["raw_client"], rp["sdk_subscribe"]
    sizes = sc["event_size"]
    idle = many["hub_idle"]
    return [
        (
            f"scale: emit() per call, p50 of single calls (mean), empty log / {rows_n} rows (us)",
            f"{empty['emit']['single_call_us']['p50']} ({empty['emit']['per_call_us']}) / "
            f"{full['emit']['single_call_us']['p50']} ({full['emit']['per_call_us']})",
            f"{sc['emit_full_over_empty']:.2f}x",
            "<= 1.2x empty",
            _verdict(emit_flat),
        ),
        (
            f"scale: hub RSS idle, empty log / {rows_n} rows (MB)",
            f"{empty['hub_rss']['VmRSS']} / {full['hub_rss']['VmRSS']}",
            f"{sc['hub_rss_full_over_empty']:.2f}x; log + WAL {full['db_mb']} MB on disk",
            "<= 1.2x empty",
            _verdict(rss_flat),
        ),
        (
            f"scale: replay {rp['events']:,} events: raw socket / SDK subscribe (events/s)",
            f"{raw['events_per_s']:,} / {sdk['events_per_s']:,} (caught up in {raw['caught_up_s']} / "
            f"{sdk['caught_up_s']} s; {raw['lost'] + sdk['lost']} lost)",
            f"SQLite scan {rp['sqlite_scan']['events_per_s']:,}/s; hub RSS after {rp['hub_rss_after']['VmRSS']} MB",
            "",
            "",
        ),
        (
            "scale: emit() per call by fields size " + " / ".join(f"{x['bytes']:,} B" for x in sizes) + " (us)",
            " / ".join(f"{x['per_call_us']}" for x in sizes),
            "",
            "",
            "",
        ),
        (
            f"scale: {many['subscribers']:,} connected subscribers, hub idle ({idle['window_s']:g} s): "
            "ticks / ms per min / wake-ups; RSS (MB)",
            f"{idle['ticks']} / {idle['cpu_ms_per_min']} / {idle['wakeups']}; {many['hub_rss_idle']['VmRSS']}",
            "",
            "",
            "",
        ),
        (
            f"scale: {many['subscribers']:,} subscribers, emit -> first / last has it, p50 / p99 (us)",
            f"{_lat(many['emit_to_first_us'], 1, ('p50', 'p99'))} / {_lat(many['emit_to_last_us'], 1, ('p50', 'p99'))}"
            + (f" ({many['missing_deliveries']} missing)" if many["missing_deliveries"] else ""),
            f"hub CPU {many['hub_cpu_us_per_event']:,} us per event "
            f"({many['hub_cpu_us_per_event'] / many['subscribers']:.1f} per delivery)",
            "",
            "",
        ),
    ]


def _noise_row(r: dict[str, Any]) -> list[Row]:
    meta = r.get("scenario_meta") or {}
    if not meta:
        return []
    cells = ", ".join(f"{k} {v['machine_cores_busy']}" for k, v in meta.items())
    return [("noise: all cores busy (ours + others) per scenario", cells, "", "", "")]


def _verdict(ok: bool | None) -> str:
    return "not run" if ok is None else ("met" if ok else "**missed**")


def figures_table(r: dict[str, Any]) -> str:
    f = Floor(r)
    rows = _latency_rows(r, f) + _throughput_rows(r, f) + _cost_rows(r, f) + _baseline_rows(r, f)
    rows += _scale_rows(r) + _noise_row(r)
    lines = ["| figure | value | vs baseline | budget | |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# -- budgets ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Budget:
    text: str
    unit: str
    op: str
    limit: float
    value: Callable[[dict[str, Any]], float | None]

    def measured(self, r: dict[str, Any]) -> float | None:
        try:
            return self.value(r)
        except (KeyError, TypeError, ZeroDivisionError):
            return None

    def met(self, r: dict[str, Any]) -> bool | None:
        v = self.measured(r)
        if v is None:
            return None
        return v <= self.limit if self.op == "<=" else v >= self.limit


def _lat10(key: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda r: dig(_by(r.get("latency"), subscribers=10), "latency_us", key)


def _startup_ms(name: str) -> Callable[[dict[str, Any]], float | None]:
    return lambda r: dig(r, "startup", "median_ms", name)


def _cli_emit_ratio(r: dict[str, Any]) -> float | None:
    emit, base = _startup_ms("waitbus emit agent tick n=1")(r), _startup_ms(PASS)(r)
    return round(emit / base, 2) if emit and base else None


BUDGETS = {
    "lat10_p50": Budget("emit -> receive p50, 10 subscribers", "us", "<=", 300, _lat10("p50")),
    "lat10_p99": Budget("emit -> receive p99, 10 subscribers", "us", "<=", 1500, _lat10("p99")),
    "emit": Budget(
        "`emit()` per call (hub running)", "us", "<=", 100, lambda r: dig(r, "emit", "with_hub", "per_call_us")
    ),
    "fanout10": Budget(
        "fan-out deliveries/s to 10 subscribers",
        "/s",
        ">=",
        50_000,
        lambda r: dig(_by(r.get("fanout"), subscribers=10), "deliveries_per_s"),
    ),
    "rss": Budget("hub idle RSS", "MB", "<=", 20, lambda r: dig(r, "idle", "rss", "VmRSS")),
    "cli_emit": Budget("`waitbus emit` whole process, x `python -c pass`", "x", "<=", 2.0, _cli_emit_ratio),
    "import": Budget(
        "`import waitbus` over the bare interpreter",
        "ms",
        "<=",
        15,
        lambda r: dig(r, "startup", "import_waitbus_over_python_ms"),
    ),
    "idle_wait": Budget(
        "idle `waitbus wait` CPU (clock ticks over the window)",
        "ticks",
        "<=",
        0,
        lambda r: dig(r, "idle", "cpu", "waitbus_wait", "ticks"),
    ),
}


def budgets_table(r: dict[str, Any]) -> str:
    lines = ["| budget | limit | measured | |", "|---|---|---|---|"]
    for b in BUDGETS.values():
        v = b.measured(r)
        shown = "-" if v is None else f"{v:,}"
        lines.append(f"| {b.text} | {b.op} {b.limit:,g} {b.unit} | {shown} | {_verdict(b.met(r))} |")
    return "\n".join(lines)


def budget_summary(r: dict[str, Any]) -> dict[str, Any]:
    """The budgets for the JSON: measured value and met (None: not run)."""
    return {
        b.text: {"limit": f"{b.op} {b.limit:g} {b.unit}", "measured": b.measured(r), "met": b.met(r)}
        for b in BUDGETS.values()
    }

"""`waitbus silence-check run`: has a source gone quiet for longer than it ever usually does?

Each source's recent history (its last 200 events) gives its usual gap (the median
time between two events) and its long gaps (the 95th percentile). A source with at
least 20 events is silent when the time since its last event passes both 3 times that
95th percentile and --min-silence: a bursty source (tests while someone works, quiet
overnight) has long gaps in its history and is not flagged for them. Each silent
episode is one `source_silent` event (source `waitbus`), keyed by the source's last
event, so a check every 5 minutes reports it once.

Then, only when Alertmanager is set up (an `alertmanager-token` or `alertmanager-hmac`
is staged, or a Watchdog heartbeat was ever received), Alertmanager's Watchdog check
runs too. Findings are events; the run itself succeeds (exit 0) whenever it could check,
and with nothing to check.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from itertools import pairwise

from waitbus_wire import format_duration

from . import _exit

SOURCE, EVENT = "waitbus", "source_silent"
HISTORY, MIN_EVENTS, FACTOR = 200, 20, 3.0
AM_SECRETS = ("alertmanager-token", "alertmanager-hmac")
PROG = "waitbus silence-check run"


@dataclass(frozen=True)
class Finding:
    source: str
    events: int
    silent_s: float
    usual_gap_s: float
    threshold_s: float
    last_event_ns: int

    @property
    def silent(self) -> bool:
        return self.silent_s > self.threshold_s

    def line(self) -> str:
        silent, usual = format_duration(self.silent_s), format_duration(self.usual_gap_s)
        if self.silent:
            return f"{self.source} has been silent for {silent} while it usually speaks every {usual}"
        return f"{self.source}: last event {silent} ago, usually every {usual}"


def assess(arrivals: dict[str, list[int]], now_ns: int, min_silence_s: float) -> list[Finding]:
    """A Finding per source with enough history (never our own `waitbus` events)."""
    out = []
    for source, times in sorted(arrivals.items()):
        if source == SOURCE or len(times) < MIN_EVENTS:
            continue
        gaps = [(b - a) / 1e9 for a, b in pairwise(times)]
        p95 = statistics.quantiles(gaps, n=20, method="inclusive")[-1]
        threshold = max(FACTOR * p95, min_silence_s)
        out.append(
            Finding(
                source, len(times), max(0.0, (now_ns - times[-1]) / 1e9), statistics.median(gaps), threshold, times[-1]
            )
        )
    return out


def report(finding: Finding) -> tuple[str, bool]:
    from waitbus import emit

    fields = {**asdict(finding), "silent_s": round(finding.silent_s, 3), "usual_gap_s": round(finding.usual_gap_s, 3)}
    fields["silent_source"] = fields.pop("source")
    result = emit(
        SOURCE,
        EVENT,
        fields=fields,
        delivery_id=f"silent:{finding.source}:{finding.last_event_ns}",
        summary=finding.line(),
    )
    return result.event_id, result.inserted


def alertmanager_configured(db_arrivals: dict[str, list[int]]) -> bool:
    from waitbus_store import SecretsError, read_secrets, resolve_paths

    try:
        staged = read_secrets(resolve_paths().secrets)
    except (SecretsError, OSError):
        staged = {}
    return any(name in staged for name in AM_SECRETS) or "alertmanager" in db_arrivals


def _watchdog(stale_after: str | None, as_json: bool) -> int | None:
    """Alertmanager's Watchdog check (its own output); None when that package is absent."""
    import importlib

    from ._daemons_cmd import daemon_doors

    found = [
        (module, func) for group, cmd, module, func, _ in daemon_doors() if (group, cmd) == ("watchdog-check", "run")
    ]
    try:
        check = getattr(importlib.import_module(found[0][0]), found[0][1])
    except (IndexError, ImportError, AttributeError):
        return None
    code: int = check([*(["--stale-after", stale_after] if stale_after else []), *(["--json"] if as_json else [])])
    return code


def run(*, min_silence_s: float, stale_after: str | None, as_json: bool) -> int:
    from waitbus_store import PathError, StoreError, open_reader, resolve_paths

    try:
        reader = open_reader(resolve_paths().db)
        arrivals: dict[str, list[int]] = {}
        if reader is not None:
            with reader:
                arrivals = reader.arrivals(HISTORY)
    except (StoreError, PathError) as exc:
        print(f"{PROG}: cannot read the event log: {exc}", file=sys.stderr)
        return _exit.USAGE
    findings = assess(arrivals, time.time_ns(), min_silence_s)
    results = []
    try:
        for f in findings:
            event_id, new = report(f) if f.silent else (None, False)
            results.append((f, event_id, new))
    except (StoreError, PathError, OSError) as exc:
        print(f"{PROG}: cannot record a silence: {exc}", file=sys.stderr)
        return _exit.STORE
    if as_json:
        for f, event_id, new in results:
            print(json.dumps({**asdict(f), "silent": f.silent, "event_id": event_id, "emitted": new}))
    else:
        for f, _event_id, _new in results:
            print(("silent: " if f.silent else "ok: ") + f.line())
        if not findings:
            print(f"nothing to check: no source has {MIN_EVENTS} events in the log yet")
    if alertmanager_configured(arrivals):
        code = _watchdog(stale_after, as_json)
        if code is None:
            print(f"{PROG}: Alertmanager is set up but waitbus-sources-alertmanager is not installed", file=sys.stderr)
        elif code not in (0, 1):  # 1 is a stale Watchdog: an event, like a silence
            return code
    elif not as_json:
        print("Alertmanager Watchdog: not checked (no alertmanager-token or -hmac staged, no heartbeat seen)")
    return _exit.OK

"""`waitbus watchdog-check run`: is the always-firing Watchdog alert still arriving?

The last heartbeat is the newer of the newest firing `prometheus_watchdog` event in the
log and the heartbeat file the /watchdog route touches (the log keeps at most one
heartbeat event a minute). Stale when there is none, when it is older than
--stale-after, or when the newest Watchdog notification is a resolve (Alertmanager
resolves it when Prometheus stops sending it). The result goes to a flag file
(`<state dir>/watchdog/fresh` or `stale`, exactly one) for shell prompts, and the
first check of each stale episode emits one `prometheus_watchdog` event with
fields.state = "stale".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from waitbus import ExitCode, format_duration
from waitbus import parse_duration as wire_duration
from waitbus_store import PathError, StoreError, open_reader

from ._names import SOURCE_NAME, WATCHDOG_EVENT
from ._state import FRESH, STALE, heartbeat_ns, set_flag, watchdog_dir

EXIT_FRESH, EXIT_STALE, EXIT_USAGE, EXIT_STORE = ExitCode.OK, ExitCode.FAILED, ExitCode.USAGE, ExitCode.STORE


def parse_duration(text: str) -> float:
    """`90`, `90s`, `10m`, `1h30m` -> seconds, more than zero (the one grammar,
    `waitbus_wire.parse_duration`, as an argparse type: raises ArgumentTypeError)."""
    try:
        seconds = wire_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than zero")
    return seconds


def _iso(ns: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns / 1e9))


@dataclass(frozen=True)
class Heartbeat:
    received_ns: int
    status: str
    fingerprint: str | None
    alertname: str | None


def newest_heartbeats() -> tuple[Heartbeat | None, Heartbeat | None]:
    """(newest Watchdog notification of any status, newest firing one) in the log.
    Heartbeats are the route's events; the check's own events carry fields.state."""
    log = open_reader()  # raises StoreError, with what to do, for a foreign or damaged file
    if log is None:
        return None, None
    newest: Heartbeat | None = None
    try:
        for _, frame in log.recent(source=SOURCE_NAME, event_type=WATCHDOG_EVENT):
            f = frame.fields
            if f.get("state") is not None:
                continue
            beat = Heartbeat(frame.received_at, str(f.get("status")), f.get("fingerprint"), f.get("alertname"))
            newest = newest or beat
            if f.get("status") == "firing":
                return newest, beat
    finally:
        log.close()
    return newest, None


@dataclass(frozen=True)
class Verdict:
    state: str  # fresh or stale
    reason: str  # fresh, never, silent, resolved
    last_ns: int | None  # the last firing heartbeat
    age_s: float | None
    stale_after_s: float
    heartbeat: Heartbeat | None

    def line(self) -> str:
        last = f"; last heartbeat {_iso(self.last_ns)}" if self.last_ns is not None else ""
        limit = format_duration(self.stale_after_s)
        if self.reason == "never":
            text = "no Watchdog heartbeat seen yet"
        elif self.reason == "resolved":
            text = "the Watchdog alert was resolved: Prometheus stopped sending it"
        else:
            text = f"last Watchdog heartbeat {format_duration(self.age_s or 0)} ago"
        return f"{self.state}: {text} (stale after {limit}){last}"


def judge(stale_after_s: float, now_ns: int | None = None) -> Verdict:
    now_ns = time.time_ns() if now_ns is None else now_ns
    newest, firing = newest_heartbeats()
    times = [t for t in (firing.received_ns if firing else None, heartbeat_ns()) if t is not None]
    last_ns = max(times) if times else None
    age = None if last_ns is None else max(0.0, (now_ns - last_ns) / 1e9)
    if last_ns is None:
        state, reason = STALE, "never"
    elif newest is not None and newest.status == "resolved" and newest.received_ns >= last_ns:
        state, reason = STALE, "resolved"
    elif age is not None and age > stale_after_s:
        state, reason = STALE, "silent"
    else:
        state, reason = FRESH, "fresh"
    return Verdict(state, reason, last_ns, age, stale_after_s, firing or newest)


def emit_stale(v: Verdict) -> tuple[str, bool]:
    """The stale event of this episode (keyed by the last heartbeat): (event_id, new?)."""
    from waitbus import emit

    hb = v.heartbeat
    fields: dict[str, Any] = {
        "state": STALE,
        "status": STALE,
        "reason": v.reason,
        "alertname": (hb.alertname if hb else None) or "Watchdog",
        "severity": None,
        "fingerprint": hb.fingerprint if hb else None,
        "last_heartbeat": _iso(v.last_ns) if v.last_ns is not None else None,
        "age_s": round(v.age_s, 3) if v.age_s is not None else None,
        "stale_after_s": v.stale_after_s,
        "summary": v.line(),
    }
    episode = str(v.last_ns) if v.last_ns is not None else "never"
    result = emit(
        SOURCE_NAME,
        WATCHDOG_EVENT,
        fields=fields,
        delivery_id=f"watchdog-stale:{episode}",
        summary=f"[stale] {fields['alertname']}: {v.line()}",
    )
    return result.event_id, result.inserted


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="waitbus watchdog-check run",
        description=(
            "Record whether Alertmanager's always-firing Watchdog alert (routed to the listener's "
            "POST /watchdog) is fresh or stale: writes <state dir>/watchdog/fresh or .../stale, "
            'emits one prometheus_watchdog event with fields.state="stale" per stale episode, '
            "prints the state. Exit codes: 0 fresh, 1 stale, 2 bad arguments or unreadable log, "
            "4 state could not be written."
        ),
    )
    p.add_argument(
        "--stale-after",
        type=parse_duration,
        default=parse_duration("10m"),
        metavar="DURATION",
        help="stale when the last heartbeat is older than this (90s, 10m, 1h; default 10m)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a line")
    return p


def watchdog_check_main(argv: list[str], now_ns: Callable[[], int] = time.time_ns) -> int:
    """`waitbus watchdog-check run ARGS`: 0 fresh, 1 stale, 2 bad args, 4 cannot write state.
    `now_ns` is the clock staleness is judged by (a test's fake one, so it need not sleep)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # argparse: --help (0) or a usage error (2), already printed
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    me = "waitbus watchdog-check run"
    try:
        lock = _lock()
    except (PathError, OSError) as exc:
        print(f"{me}: cannot use the state dir: {exc}", file=sys.stderr)
        return EXIT_STORE
    with lock:
        try:
            verdict = judge(args.stale_after, now_ns())
        except (StoreError, PathError) as exc:
            print(f"{me}: cannot read the event log: {exc}", file=sys.stderr)
            return EXIT_USAGE
        event_id, emitted = None, False
        try:
            if verdict.state == STALE:
                event_id, emitted = emit_stale(verdict)
            set_flag(verdict.state, verdict.line() + "\n")
        except (StoreError, PathError, OSError) as exc:
            print(f"{me}: cannot record the state: {exc}", file=sys.stderr)
            return EXIT_STORE
    if args.json:
        out = {
            "state": verdict.state,
            "reason": verdict.reason,
            "last_heartbeat": _iso(verdict.last_ns) if verdict.last_ns is not None else None,
            "age_s": verdict.age_s,
            "stale_after_s": verdict.stale_after_s,
            "event_id": event_id,
            "emitted": emitted,
            "flag": str(watchdog_dir() / verdict.state),
        }
        print(json.dumps(out))
    else:
        print(verdict.line())
    return EXIT_FRESH if verdict.state == FRESH else EXIT_STALE


class _Lock:
    """An flock on `<state dir>/watchdog/.lock`: two checks never race on the flags."""

    def __init__(self, path: str) -> None:
        import fcntl
        import os

        self.fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __enter__(self) -> _Lock:
        return self

    def __exit__(self, *exc: object) -> None:
        import os

        os.close(self.fd)  # closing drops the flock


def _lock() -> _Lock:
    return _Lock(str(watchdog_dir() / ".lock"))

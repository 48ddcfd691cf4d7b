"""`watchdog_check_main` (the `waitbus watchdog-check run` door): fresh and stale
transitions, the flag files a shell prompt reads, and one stale event per episode.
Heartbeats arrive through the real /watchdog handler with Alertmanager's own body."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests._support import FakeClock
from waitbus import HttpRequest
from waitbus_sources_alertmanager import handle_watchdog, parse_duration, watchdog_check_main
from waitbus_store import Store, resolve_paths

PAYLOADS = Path(__file__).parent / "payloads"
TOKEN = "wd-token"


def deliver(what: str | bytes = "watchdog_firing") -> None:
    raw = what if isinstance(what, bytes) else (PAYLOADS / f"{what}.json").read_bytes()
    req = HttpRequest(
        "POST",
        "/watchdog",
        {"authorization": f"Bearer {TOKEN}", "content-type": "application/json"},
        raw,
        {"alertmanager-token": TOKEN},
    )
    assert handle_watchdog(req).status == 200


def flags() -> list[str]:
    d = resolve_paths().state_dir / "watchdog"
    return sorted(p.name for p in d.iterdir() if p.name in ("fresh", "stale")) if d.exists() else []


def stale_events() -> list[dict[str, Any]]:
    db = resolve_paths().db
    if not db.exists():
        return []
    with Store(db) as store:
        rows = store.read_after(0, 10_000)
    return [json.loads(r.fields) for r in rows if json.loads(r.fields).get("state") == "stale"]


def run(capsys: pytest.CaptureFixture[str], *argv: str, clock: FakeClock | None = None) -> tuple[int, str]:
    code = watchdog_check_main(list(argv), (lambda: int(clock() * 1e9)) if clock else time.time_ns)
    return code, capsys.readouterr().out


def test_never_seen_is_stale_with_one_event_however_often_it_runs(capsys: pytest.CaptureFixture[str]) -> None:
    code, out = run(capsys, "--stale-after", "10m")
    assert code == 1 and out.startswith("stale: no Watchdog heartbeat seen yet")
    assert flags() == ["stale"]
    for _ in range(3):
        assert run(capsys)[0] == 1
    (event,) = stale_events()
    assert (event["reason"], event["status"], event["last_heartbeat"]) == ("never", "stale", None)


def test_fresh_then_stale_then_fresh_then_stale_again(capsys: pytest.CaptureFixture[str]) -> None:
    # The check judges by a fake clock set to each delivery's time and then moved on by
    # hand: no sleeping, and no "0s ago" that a loaded box could turn into "1s ago".
    deliver()
    clock = FakeClock(time.time())
    code, out = run(capsys, "--stale-after", "1s", clock=clock)
    assert code == 0 and out.startswith("fresh: last Watchdog heartbeat 0s ago (stale after 1s)")
    assert flags() == ["fresh"]
    assert stale_events() == []
    clock.advance(1.3)
    code, out = run(capsys, "--stale-after", "1s", clock=clock)
    assert code == 1 and out.startswith("stale: last Watchdog heartbeat 1s ago")
    assert flags() == ["stale"]
    assert run(capsys, "--stale-after", "1s", clock=clock)[0] == 1  # the same episode: no second event
    (first,) = stale_events()
    assert (first["reason"], first["alertname"], first["fingerprint"]) == ("silent", "Watchdog", "448881ef475b9b26")
    # The heartbeat comes back (within the same minute the log dedups it; the file moves).
    deliver()
    clock = FakeClock(time.time())
    assert run(capsys, "--stale-after", "1s", clock=clock)[0] == 0
    assert flags() == ["fresh"]
    clock.advance(1.3)
    assert run(capsys, "--stale-after", "1s", clock=clock)[0] == 1
    assert len(stale_events()) == 2  # a new episode, a new event
    assert flags() == ["stale"]


def test_a_resolved_watchdog_is_stale_at_once(capsys: pytest.CaptureFixture[str]) -> None:
    deliver()
    assert run(capsys)[0] == 0
    time.sleep(0.02)
    deliver("watchdog_resolved")
    code, out = run(capsys)
    assert code == 1 and "resolved: Prometheus stopped sending it" in out
    (event,) = stale_events()
    assert event["reason"] == "resolved"
    time.sleep(0.02)
    deliver()  # firing again: fresh
    assert run(capsys)[0] == 0


def test_json_output_and_flag_text(capsys: pytest.CaptureFixture[str]) -> None:
    deliver()
    code, out = run(capsys, "--json", "--stale-after", "90s")
    doc = json.loads(out)
    assert code == 0
    assert (doc["state"], doc["reason"], doc["stale_after_s"], doc["event_id"], doc["emitted"]) == (
        "fresh",
        "fresh",
        90.0,
        None,
        False,
    )
    assert doc["flag"].endswith("/watchdog/fresh")
    assert Path(doc["flag"]).read_text().startswith("fresh: last Watchdog heartbeat")


def test_bad_arguments_exit_2_and_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    for bad in (["--stale-after", "soon"], ["--stale-after", "0s"], ["--nope"], ["extra"]):
        assert watchdog_check_main(bad) == 2
        assert "waitbus watchdog-check run" in capsys.readouterr().err
    assert watchdog_check_main(["--help"]) == 0
    assert "usage: waitbus watchdog-check run" in capsys.readouterr().out
    assert flags() == []  # nothing recorded on a usage error


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("1h30m", 5400), ("2d", 172800)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_a_foreign_log_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    db = resolve_paths().db
    db.parent.mkdir(parents=True, exist_ok=True)
    sqlite3.connect(db).execute("CREATE TABLE other (x)").connection.close()
    code = watchdog_check_main([])
    err = capsys.readouterr().err
    assert code == 2 and "cannot read the event log" in err and "not a waitbus event store" in err


@pytest.mark.timeout(60)
def test_exactly_one_flag_exists_while_the_state_flips(capsys: pytest.CaptureFixture[str]) -> None:
    """A prompt reading the flags at any moment sees exactly one of them."""
    assert run(capsys)[0] == 1  # never seen: stale
    d = resolve_paths().state_dir / "watchdog"
    seen: set[tuple[bool, bool]] = set()
    stop = threading.Event()

    def watch() -> None:
        # One listdir is one snapshot (the kernel orders it against rename); two exists()
        # calls would not be, and could straddle a flip.
        while not stop.is_set():
            names = set(os.listdir(d))
            seen.add(("fresh" in names, "stale" in names))

    reader = threading.Thread(target=watch)
    reader.start()
    try:
        for i in range(15):
            deliver()
            assert watchdog_check_main(["--stale-after", "1h"]) == 0
            time.sleep(0.002)
            deliver(resolved_body(i))  # each resolve its own endsAt: a new event
            assert watchdog_check_main(["--stale-after", "1h"]) == 1
            time.sleep(0.002)
    finally:
        stop.set()
        reader.join()
    capsys.readouterr()
    assert seen == {(True, False), (False, True)}, seen
    assert len(stale_events()) == 16  # the never-seen episode, then one per resolve


def resolved_body(i: int) -> bytes:
    doc = json.loads((PAYLOADS / "watchdog_resolved.json").read_bytes())
    doc["alerts"][0]["endsAt"] = f"2026-11-26T01:00:{i:02d}Z"
    return json.dumps(doc).encode()

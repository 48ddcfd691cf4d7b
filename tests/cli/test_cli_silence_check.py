"""`waitbus silence-check run` (what the watchdog timer runs) against a real SQLite log
whose history is written with past received_at times (issue 14 item 4)."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest

from tests._support import run_cli
from waitbus_store import Store, open_reader, resolve_paths

MIN = 60 * 10**9


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("silence-check", "run", *args)


def history(source: str, *, every_min: float, count: int, last_min_ago: float) -> None:
    """`count` events `every_min` minutes apart, the newest `last_min_ago` minutes ago."""
    paths = resolve_paths().ensure()
    now = time.time_ns()
    with Store(paths.db) as store:
        for k in range(count):
            at = now - int((last_min_ago + (count - 1 - k) * every_min) * MIN)
            store.insert(source=source, event_type="tick", fields=b"{}", received_at=at)


def silences() -> list[dict[str, object]]:
    with Store(resolve_paths().db) as store:
        return [
            {**json.loads(r.fields), "_summary": r.summary}
            for r in store.read_after(0, 100_000)
            if r.event_type == "source_silent"
        ]


def test_nothing_to_check_succeeds_and_says_so():
    out = run()
    assert out.returncode == 0, out.stderr
    assert "nothing to check" in out.stdout
    assert "Alertmanager Watchdog: not checked" in out.stdout
    assert not (resolve_paths().state_dir / "watchdog").exists()  # no false "[stale] Watchdog"


def test_a_source_silent_far_past_its_usual_gap_is_one_event_per_episode():
    history("github", every_min=10, count=30, last_min_ago=180)  # usually every 10 min, now 3 h quiet
    history("pytest", every_min=10, count=30, last_min_ago=5)  # speaking as usual
    out = run()
    assert out.returncode == 0, out.stderr
    # durations read as parse_duration writes them; the seconds this test takes may show
    assert re.search(r"silent: github has been silent for 3h(\d+m)? while it usually speaks every 10m\n", out.stdout)
    assert re.search(r"ok: pytest: last event 5m(\d+s)? ago, usually every 10m\n", out.stdout)
    (event,) = silences()
    assert event["silent_source"] == "github" and event["events"] == 30
    assert re.fullmatch(r"github has been silent for 3h(\d+m)? while it usually speaks every 10m", event["_summary"])
    assert 170 * 60 < float(event["silent_s"]) < 200 * 60  # type: ignore[arg-type]
    assert run().returncode == 0
    assert len(silences()) == 1  # the next tick of the timer: the same episode
    history("github", every_min=1, count=1, last_min_ago=0)  # it spoke: the episode ends
    assert "ok: github" in run().stdout and len(silences()) == 1


def test_a_bursty_source_is_judged_by_its_own_long_gaps():
    # Bursts a minute apart with 8 h pauses: 3 h of quiet is normal for it.
    paths = resolve_paths().ensure()
    now = time.time_ns()
    with Store(paths.db) as store:
        for day in range(3):
            for k in range(10):
                at = now - (180 + day * 480) * MIN - k * MIN
                store.insert(source="fs", event_type="fs_change", fields=b"{}", received_at=at)
    out = run("--json")
    assert out.returncode == 0, out.stderr
    (fs,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert fs["source"] == "fs" and fs["silent"] is False and fs["usual_gap_s"] == 60
    assert silences() == []


def test_min_silence_holds_back_a_fast_source():
    history("docker", every_min=0.1, count=40, last_min_ago=20)  # every 6 s, 20 min quiet
    assert "silent: docker" in run("--min-silence", "10m").stdout
    assert "ok: docker" in run("--min-silence", "1h").stdout


def test_the_watchdog_is_checked_only_once_alertmanager_is_set_up():
    staged = run_cli("install-credentials", "alertmanager-token", input="t0ken")
    assert staged.returncode == 0, staged.stderr
    out = run()
    assert out.returncode == 0, out.stderr  # a stale Watchdog is an event, not a failed unit
    assert "stale: no Watchdog heartbeat seen yet" in out.stdout
    assert (resolve_paths().state_dir / "watchdog" / "stale").exists()


@pytest.mark.parametrize("args", [["--min-silence", "soon"], ["--nope"]])
def test_bad_options_are_exit_2(args):
    out = run(*args)
    assert out.returncode == 2


def test_reader_arrivals_keeps_the_newest_per_source_oldest_first():
    history("a", every_min=1, count=5, last_min_ago=0)
    history("b", every_min=1, count=2, last_min_ago=0)
    reader = open_reader(resolve_paths().db)
    assert reader is not None
    with reader:
        got = reader.arrivals(per_source=3)
    assert sorted(got) == ["a", "b"] and len(got["a"]) == 3 and len(got["b"]) == 2
    assert got["a"] == sorted(got["a"])

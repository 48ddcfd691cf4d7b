"""The resume cursor: what a replay skips, and how the file is written."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from waitbus_sources_docker._state import MAX_HEALTH, SLACK_NS, Cursor, load, save

S = 1_000_000_000


def test_fresh_start_wants_nothing_before_it() -> None:
    c = Cursor.starting_at(100 * S + 5)
    assert c.floor_ns() == 100 * S + 5
    assert c.since_seconds() == 100  # the engine takes whole seconds; the floor trims the rest


def test_replay_window_reaches_back_by_the_slack() -> None:
    c = Cursor.starting_at(100 * S)
    c.record("a", 200 * S + 7)
    assert c.floor_ns() == 200 * S + 7 - SLACK_NS
    assert c.since_seconds() == (200 * S + 7 - SLACK_NS) // S
    assert c.seen("a") and not c.seen("b")


def test_recent_ids_older_than_the_floor_are_pruned_and_the_floor_covers_them() -> None:
    c = Cursor.starting_at(0)
    c.record("old", 10 * S)
    c.record("new", 10 * S + SLACK_NS + 1)
    assert not c.seen("old")  # pruned ...
    assert c.floor_ns() > 10 * S  # ... because a replay skips its time anyway
    assert c.seen("new")


def test_advance_never_goes_back() -> None:
    c = Cursor.starting_at(50 * S)
    c.advance(40 * S)
    assert c.time_ns == 50 * S
    c.advance(60 * S)
    assert c.time_ns == 60 * S


def test_health_map_is_bounded_and_keeps_the_most_recent() -> None:
    c = Cursor()
    for i in range(MAX_HEALTH + 10):
        c.set_health(f"c{i}", "healthy")
    c.set_health("c20", "unhealthy")  # touched again: now the most recent
    assert len(c.health) == MAX_HEALTH
    assert "c0" not in c.health and c.health["c20"] == "unhealthy"


def test_save_then_load_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "docker-events.json"
    c = Cursor.starting_at(5 * S)
    c.record("x:die:6", 6 * S)
    c.set_health("x", None)
    save(path, c)
    loaded, warning = load(path)
    assert warning is None
    assert loaded == c
    assert [p.name for p in path.parent.iterdir()] == ["docker-events.json"], "no temp file left behind"


def test_save_replaces_atomically(tmp_path: Path) -> None:
    path = tmp_path / "docker-events.json"
    save(path, Cursor.starting_at(1))
    before = os.stat(path).st_ino
    save(path, Cursor.starting_at(2))
    assert os.stat(path).st_ino != before, "a new file renamed over the old, never rewritten in place"
    assert json.loads(path.read_text())["time_ns"] == 2


def test_missing_file_is_a_fresh_cursor(tmp_path: Path) -> None:
    assert load(tmp_path / "nope.json") == (Cursor(), None)


@pytest.mark.parametrize(
    "text", ["{not json", "[]", '{"version": 2}', '{"version": 1, "time_ns": "soon"}', '{"version": 1, "recent": [1]}']
)
def test_unreadable_file_warns_and_starts_fresh(tmp_path: Path, text: str) -> None:
    path = tmp_path / "docker-events.json"
    path.write_text(text)
    cursor, warning = load(path)
    assert cursor == Cursor()
    assert warning is not None and str(path) in warning and "starting from now" in warning

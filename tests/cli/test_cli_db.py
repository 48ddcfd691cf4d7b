"""`waitbus db prune|migrate` and `waitbus stats`, run as the real console script."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from pathlib import Path

import msgspec
import pytest

import waitbus
from tests._support import run_cli
from waitbus_store import SCHEMA_VERSION, Store, resolve_paths
from waitbus_wire import encode_fields

DAY_NS = 86400 * 10**9


def insert(age_days: float = 0, n: int = 1, size: int = 10, source: str = "agent") -> list[str]:
    """`n` stored events received `age_days` ago, with about `size` bytes of fields."""
    resolve_paths().ensure()
    fields = encode_fields(source, "tick", {"pad": "x" * size})
    with Store(resolve_paths().db) as store:
        return [
            store.insert(
                source=source, event_type="tick", fields=fields, received_at=time.time_ns() - int(age_days * DAY_NS)
            ).event_id
            for _ in range(n)
        ]


def stored_ids() -> list[str]:
    with Store(resolve_paths().db) as store:
        return [r[0] for r in store.connection.execute("SELECT event_id FROM events ORDER BY seq")]


def prune(*args: str) -> dict[str, object]:
    out = run_cli("db", "prune", *args, "--json")
    assert out.returncode == 0, out.stderr
    result: dict[str, object] = msgspec.json.decode(out.stdout)
    return result


def write_config(text: str) -> None:
    path = Path(os.environ["XDG_CONFIG_HOME"]) / "waitbus" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


# -- db prune --------------------------------------------------------------------


def test_prune_older_than_deletes_only_old_events():
    insert(40, 2)
    insert(35, 1)
    keep = [*insert(1, 2), waitbus.emit("agent", "now").event_id]
    result = prune("--older-than", "30d")
    assert (result["deleted"], result["remaining"], result["dry_run"]) == (3, 3, False)
    assert result["limits"] == {"older_than_s": 30 * 86400, "max_bytes": None, "max_rows": None}
    assert stored_ids() == keep


def test_prune_max_rows_keeps_the_newest():
    ids = insert(0, 10)
    result = prune("--max-rows", "3")
    assert (result["deleted"], result["remaining"]) == (7, 3)
    assert stored_ids() == ids[-3:]


def test_prune_max_size_shrinks_the_file_and_reports_sizes():
    ids = insert(0, 1500, size=1000)
    result = prune("--max-size", "500KB")
    assert result["size_before"] > 1_000_000
    assert result["size_after"] <= 500_000 < result["size_before"]
    assert result["deleted"] > 0 and result["remaining"] == 1500 - result["deleted"]
    assert stored_ids() == ids[result["deleted"] :]


def test_prune_dry_run_deletes_nothing_and_names_the_cut():
    ids = insert(0, 5)
    before = hashlib.sha256(resolve_paths().db.read_bytes()).hexdigest()
    result = prune("--max-rows", "2", "--dry-run")
    assert (result["deleted"], result["remaining"], result["dry_run"]) == (3, 2, True)
    assert result["through"]["event_id"] == ids[2]
    assert stored_ids() == ids
    assert hashlib.sha256(resolve_paths().db.read_bytes()).hexdigest() == before
    text = run_cli("db", "prune", "--max-rows", "2", "--dry-run")
    assert text.returncode == 0 and text.stdout.startswith("would delete 3 of 5 events")


def test_prune_text_output_and_progress():
    insert(0, 6)
    out = run_cli("db", "prune", "--max-rows", "1", "--progress")
    assert out.returncode == 0
    assert out.stdout.startswith("deleted 5 events, 1 remain; size ")
    assert "limits from flags: beyond 1 rows" in out.stdout
    assert out.stderr.splitlines() == ["prune: 5/5 rows (100%)"]


def test_prune_without_flags_uses_the_config():
    insert(3, 2)
    keep = insert(0, 6)
    write_config('[retention]\nolder_than = "2d"\nmax_size = ""\nmax_rows = 4\n')
    result = prune()
    assert str(result["limits_from"]).startswith("config ")
    assert result["limits"] == {"older_than_s": 2 * 86400, "max_bytes": None, "max_rows": 4}
    assert result["deleted"] == 4 and stored_ids() == keep[-4:]


def test_prune_without_flags_or_config_uses_the_defaults():
    insert(31, 1)
    keep = insert(29, 2)
    result = prune()
    assert result["limits"] == {"older_than_s": 30 * 86400, "max_bytes": 500_000_000, "max_rows": None}
    assert result["deleted"] == 1 and stored_ids() == keep


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--older-than", "1x"], "bad duration"),
        (["--max-size", "lots"], "bad size"),
        (["--max-rows", "-1"], "--max-rows"),
    ],
)
def test_prune_bad_flags_exit_2_and_delete_nothing(args, message):
    ids = insert(100, 3)
    out = run_cli("db", "prune", *args)
    assert out.returncode == 2 and message in out.stderr
    assert stored_ids() == ids


def test_prune_bad_config_exits_2():
    ids = insert(100, 2)
    write_config('[retention]\nolder_than = "forever"\n')
    out = run_cli("db", "prune")
    assert out.returncode == 2 and "bad duration" in out.stderr and "Traceback" not in out.stderr
    assert stored_ids() == ids


def test_prune_with_no_store_or_a_foreign_file():
    out = run_cli("db", "prune", "--max-rows", "1")
    assert out.returncode == 0 and "nothing to prune" in out.stdout
    assert not resolve_paths().db.exists()
    foreign(resolve_paths().db)
    refused = run_cli("db", "prune", "--max-rows", "1")
    assert refused.returncode == 2 and "not a waitbus event store" in refused.stderr


# -- db migrate ------------------------------------------------------------------


def foreign(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript("CREATE TABLE notes (x); INSERT INTO notes VALUES ('mine');")
    conn.close()


def version_1_store(path: Path) -> None:
    """A store as the first release left it: the events table, no bookmarks."""
    from waitbus_store._schema import APPLICATION_ID, MIGRATIONS

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.executescript(
        MIGRATIONS[0] + f"; PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 1;"
        "INSERT INTO events (event_id, source, event_type, delivery_id, received_at, fields)"
        " VALUES ('01ARZ3NDEKTSV4RRFFQ69G5FAV', 'agent', 'x', 'd', 1, '{}');"
    )
    conn.close()


def migrate() -> tuple[int, dict[str, object]]:
    out = run_cli("db", "migrate", "--json")
    return out.returncode, (msgspec.json.decode(out.stdout) if out.returncode == 0 else {"stderr": out.stderr})


def test_migrate_creates_a_fresh_store():
    code, result = migrate()
    assert code == 0
    assert result == {**result, "before": 0, "after": SCHEMA_VERSION, "created": True, "migrated": True}
    assert resolve_paths().db.exists()


def test_migrate_on_a_current_store_does_nothing():
    waitbus.emit("agent", "x")
    code, result = migrate()
    assert code == 0
    assert (result["before"], result["after"], result["migrated"], result["created"]) == (
        SCHEMA_VERSION,
        SCHEMA_VERSION,
        False,
        False,
    )
    text = run_cli("db", "migrate")
    assert "the latest: nothing to do" in text.stdout


def test_migrate_upgrades_an_old_store_and_keeps_its_events():
    version_1_store(resolve_paths().db)
    text = run_cli("db", "migrate")
    assert text.returncode == 0, text.stderr
    assert f"from schema version 1 to {SCHEMA_VERSION}" in text.stdout
    with Store(resolve_paths().db, create=False) as store:
        assert store.count() == 1
        store.set_bookmark("b", "01ARZ3NDEKTSV4RRFFQ69G5FAV")  # the table migration 2 adds


@pytest.mark.parametrize("kind", ["foreign", "corrupt", "too_new"])
def test_migrate_refuses_files_that_are_not_ours_and_leaves_them_alone(kind):
    db = resolve_paths().db
    db.parent.mkdir(parents=True)
    if kind == "foreign":
        foreign(db)
        message = "not a waitbus event store"
    elif kind == "corrupt":
        db.write_bytes(os.urandom(8192))
        message = "corrupt or not a SQLite file"
    else:
        from waitbus_store._schema import APPLICATION_ID

        conn = sqlite3.connect(db)
        conn.executescript(f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = 99; CREATE TABLE t (x);")
        conn.close()
        message = "newer than this waitbus"
    before = db.read_bytes()
    code, result = migrate()
    assert code == 2
    assert message in str(result["stderr"]) and "Traceback" not in str(result["stderr"])
    assert db.read_bytes() == before


# -- stats -----------------------------------------------------------------------


def test_stats_counts_and_times():
    first = insert(2, 1, source="pytest")[0]
    for _ in range(3):
        waitbus.emit("docker", "docker_container")
    last = waitbus.emit("agent", "hello").event_id
    with Store(resolve_paths().db) as store:
        store.set_bookmark("mine", last)
    out = run_cli("stats", "--json")
    assert out.returncode == 0, out.stderr
    s = msgspec.json.decode(out.stdout)
    assert s["total"] == 5 and s["exists"] is True and s["schema_version"] == SCHEMA_VERSION
    assert [(t["source"], t["event_type"], t["events"]) for t in s["by_type"]] == [
        ("docker", "docker_container", 3),
        ("agent", "hello", 1),
        ("pytest", "tick", 1),
    ]
    assert s["first_event"]["event_id"] == first and s["last_event"]["event_id"] == last
    assert s["first_event"]["time"] < s["last_event"]["time"]
    assert s["db_bytes"] == resolve_paths().db.stat().st_size > 0
    assert s["bookmarks"] == {"mine": last}
    text = run_cli("stats")
    assert text.stdout.startswith(f"5 events in {resolve_paths().db}")
    assert "docker  docker_container       3" in text.stdout


def test_stats_with_no_store():
    out = run_cli("stats", "--json")
    assert out.returncode == 0
    s = msgspec.json.decode(out.stdout)
    assert (s["exists"], s["total"], s["by_type"], s["last_event"]) == (False, 0, [], None)
    assert not resolve_paths().db.exists()

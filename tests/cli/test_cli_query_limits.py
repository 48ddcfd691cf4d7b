"""`waitbus events query` cannot run for ever or take the machine's memory (issue 13,
item 6), and hitting a limit harms no emitter: the real console script against a real
log, with real emitters writing while it runs."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import waitbus
from tests._support import WAITBUS, run_cli
from waitbus_store import resolve_paths

pytestmark = pytest.mark.timeout(120)

# Reads the log (so it holds a read transaction), then counts for ever.
COUNT_TO = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT {n}) "
RUNAWAY = (
    "WITH RECURSIVE c(x) AS (SELECT (SELECT count(*) FROM events) UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
)


def query(*args: str) -> tuple[int, str, int]:
    """(exit code, stderr, peak RSS in bytes) of one `waitbus events query`."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([WAITBUS, "events", "query", *args], stdout=subprocess.DEVNULL, stderr=err)
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except BaseException:
            proc.kill()
            proc.wait()
            raise
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        return proc.returncode, err.read().decode(), usage.ru_maxrss * 1024


def checkpoint_truncate(db: Path) -> int:
    """`busy` of a TRUNCATE checkpoint: 1 while a reader pins an old snapshot."""
    conn = sqlite3.connect(db, timeout=0.5)
    try:
        return int(conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
    finally:
        conn.close()


def test_a_runaway_query_stops_at_its_timeout_with_124_and_emitters_keep_writing() -> None:
    for i in range(20):
        waitbus.emit("agent", "seed", fields={"i": i})
    db = resolve_paths().db
    started = time.monotonic()
    proc = subprocess.Popen(
        [WAITBUS, "events", "query", "--timeout", "5s", RUNAWAY], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        ids: list[str] = []
        pinned = False
        while proc.poll() is None and not pinned:  # emit until the query is seen holding its snapshot
            ids.append(waitbus.emit("agent", "during", fields={"i": len(ids)}).event_id)
            pinned = checkpoint_truncate(db) == 1
        for _ in range(50):
            ids.append(waitbus.emit("agent", "during", fields={"i": len(ids)}).event_id)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    took = time.monotonic() - started
    assert proc.returncode == 124, err
    assert b"stopped after 5s (--timeout)" in err and b"Traceback" not in err
    assert took < 30
    assert len(set(ids)) == len(ids) > 50  # every emit succeeded while the query ran
    assert pinned  # the query really held a read transaction...
    assert checkpoint_truncate(db) == 0  # ...and let it go when stopped: the WAL can be emptied
    assert Path(f"{db}-wal").stat().st_size == 0


def test_the_default_timeout_is_30s_and_a_bad_one_is_exit_2() -> None:
    assert query("--timeout", "0", "SELECT 1")[:1] == (2,)
    code, err, _ = query("--timeout", "soon", "SELECT 1")
    assert code == 2 and "bad duration" in err
    help_text = run_cli("events", "query", "--help", timeout=60)
    assert "30s" in help_text.stdout


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        # Two 1 GB values: each is over the 16 MiB value limit.
        ("SELECT randomblob(1000000000), randomblob(1000000000)", "at most 16 MiB"),
        # 1,000 values of 10 MB: each fits, their sum is over the 64 MiB result limit.
        (
            COUNT_TO.format(n=1000) + "SELECT randomblob(10000000) FROM c",
            "over 64 MiB",
        ),
        # A string grown past the value limit inside SQLite.
        (
            COUNT_TO.format(n=3_000_000) + "SELECT group_concat(x) FROM c",
            "at most 16 MiB",
        ),
    ],
)
def test_queries_past_the_memory_limits_stop_with_exit_2_and_bounded_memory(sql: str, message: str) -> None:
    waitbus.emit("agent", "seed")
    code, err, peak = query(sql)
    assert code == 2, err
    assert message in err and "Traceback" not in err
    assert peak < 400 * 1024 * 1024, f"peak RSS {peak >> 20} MB"
    assert waitbus.emit("agent", "after").inserted  # the log is untouched and writable

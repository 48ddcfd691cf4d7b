"""`waitbus events query` (read-only SQL) and `waitbus events analyze` (DuckDB), run as
the real console script."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import msgspec
import pytest

import waitbus
from tests._support import WAITBUS, run_cli
from tests.cli.test_cli_query_limits import checkpoint_truncate
from waitbus_store import Store, resolve_paths
from waitbus_wire import encode_fields


def emit(source: str, event_type: str, **fields: object) -> str:
    return waitbus.emit(source, event_type, fields=fields).event_id


def seed() -> list[str]:
    return [
        emit("pytest", "pytest_session", rootdir="/a", outcome="failed"),
        emit("pytest", "pytest_session", rootdir="/a", outcome="failed"),
        emit("pytest", "pytest_session", rootdir="/b", outcome="passed"),
        emit("docker", "docker_container", container="web", action="die", exit_code=1),
        emit("github", "workflow_run", run_id=9, status="completed", conclusion="success"),
    ]


def state_fingerprint() -> dict[str, str]:
    """Every file in the state dir and its hash: a write anywhere would show. The
    -shm file is left out: it is the WAL index, where every reader records read marks."""
    state = resolve_paths().state_dir
    files = [p for p in sorted(state.iterdir()) if p.is_file() and not p.name.endswith("-shm")]
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


# -- events query ----------------------------------------------------------------


def test_query_prints_a_table_and_json_objects():
    seed()
    sql = "SELECT source, count(*) AS n FROM events GROUP BY source ORDER BY source"
    text = run_cli("events", "query", sql)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["source", "n"] and set(lines[1]) <= {"-", " "}
    assert [line.split() for line in lines[2:]] == [["docker", "1"], ["github", "1"], ["pytest", "3"]]
    as_json = msgspec.json.decode(run_cli("events", "query", sql, "--json").stdout)
    assert as_json == [{"source": "docker", "n": 1}, {"source": "github", "n": 1}, {"source": "pytest", "n": 3}]


def test_query_reads_fields_with_json_functions_and_comments():
    seed()
    sql = """-- failed sessions per rootdir
    WITH s AS (SELECT json_extract(fields, '$.rootdir') AS root, json_extract(fields, '$.outcome') AS o
               FROM events WHERE event_type = 'pytest_session')
    SELECT root, count(*) AS failed FROM s WHERE o = 'failed' GROUP BY root; -- trailing comment"""
    out = run_cli("events", "query", "--json", "--", sql)
    assert out.returncode == 0, out.stderr
    assert msgspec.json.decode(out.stdout) == [{"root": "/a", "failed": 2}]
    piped = run_cli("events", "query", "-", "--json", timeout=60, input=sql)
    assert piped.returncode == 0 and msgspec.json.decode(piped.stdout) == [{"root": "/a", "failed": 2}]


def test_query_injects_the_limit():
    seed()
    capped = run_cli("events", "query", "SELECT event_id FROM events ORDER BY seq", "--limit", "2", "--json")
    assert capped.returncode == 0
    assert len(msgspec.json.decode(capped.stdout)) == 2
    assert "showing the first 2 rows" in capped.stderr
    own_limit = run_cli("events", "query", "SELECT event_id FROM events LIMIT 4", "--limit", "3", "--json")
    assert len(msgspec.json.decode(own_limit.stdout)) == 3
    under = run_cli("events", "query", "SELECT event_id FROM events", "--json")
    assert len(msgspec.json.decode(under.stdout)) == 5 and under.stderr == ""


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("INSERT INTO events (event_id) VALUES ('x')", "not INSERT"),
        ("UPDATE events SET summary = 'x'", "not UPDATE"),
        ("DELETE FROM events", "not DELETE"),
        ("WITH doomed AS (SELECT seq FROM events) DELETE FROM events WHERE seq IN doomed", "not DELETE"),
        (
            "WITH RECURSIVE a(x) AS (SELECT 1), b AS MATERIALIZED (SELECT 2) UPDATE events SET summary = 'x'",
            "not UPDATE",
        ),
        ("SELECT 1; DELETE FROM events", "2 statements"),
        ("SELECT 1; SELECT 2", "2 statements"),
        ("PRAGMA query_only = 0; DELETE FROM events", "2 statements"),
        ("PRAGMA query_only = 0", "not PRAGMA"),
        ("PRAGMA journal_mode = DELETE", "not PRAGMA"),
        ("ATTACH DATABASE 'other.db' AS other", "not ATTACH"),
        ("VACUUM INTO 'copy.db'", "not VACUUM"),
        ("DROP TABLE events", "not DROP"),
        ("CREATE TABLE t (x)", "not CREATE"),
        ("BEGIN", "not BEGIN"),
        ("REPLACE INTO bookmarks VALUES ('b', 'x', 1)", "not REPLACE"),
        ("SELECT * FROM pragma_table_info('events')", "not authorized"),  # past the tokenizer: SQLite refuses
        ("SELECT 'unterminated", "incomplete"),
        ("/* only a comment */", "no SQL given"),
        ("SELECT * FROM no_such_table", "no such table"),
    ],
)
def test_query_refuses_anything_but_one_select_and_changes_nothing(sql, message):
    seed()
    with Store(resolve_paths().db) as store:
        store.set_bookmark("keep", "01ARZ3NDEKTSV4RRFFQ69G5FAV")
    before = state_fingerprint()
    out = run_cli("events", "query", sql)
    assert out.returncode == 2, out.stdout
    assert message in out.stderr and "Traceback" not in out.stderr
    assert state_fingerprint() == before
    with Store(resolve_paths().db) as store:
        assert store.count() == 5
        assert store.get_bookmark("keep") == "01ARZ3NDEKTSV4RRFFQ69G5FAV"


def test_semicolons_and_keywords_inside_strings_and_names_are_not_statements():
    seed()
    sql = """SELECT 'a; DELETE FROM events' AS "x;y", [DELETE] FROM (SELECT 1 AS "DELETE")"""
    out = run_cli("events", "query", sql, "--json")
    assert out.returncode == 0, out.stderr
    assert msgspec.json.decode(out.stdout) == [{"x;y": "a; DELETE FROM events", "DELETE": 1}]


def test_ctrl_c_stops_a_runaway_query_with_130():
    seed()
    # It reads the log first, so it holds a read snapshot while it runs.
    forever = "WITH RECURSIVE c(x) AS (SELECT count(*) FROM events UNION ALL SELECT x + 1 FROM c) SELECT max(x) FROM c"
    proc = subprocess.Popen(
        [WAITBUS, "events", "query", forever], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy()
    )
    try:
        # Ctrl-C while the query runs, not while the CLI is still starting: wait until
        # its snapshot pins the WAL (new commits cannot be checkpointed past it).
        db = resolve_paths().db
        deadline = time.monotonic() + 60
        while checkpoint_truncate(db) != 1:
            assert proc.poll() is None and time.monotonic() < deadline, "the query never ran"
            waitbus.emit("agent", "during")
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 130
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        proc.stdout.close()
        proc.stderr.close()


def test_query_with_no_store_exits_2():
    out = run_cli("events", "query", "SELECT 1")
    assert out.returncode == 2 and "no event store" in out.stderr
    assert not resolve_paths().db.exists()


# -- events analyze --------------------------------------------------------------


def _offline_prefix() -> tuple[str, ...]:
    """Run in a fresh network namespace when the box allows it: no network at all."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], capture_output=True).returncode == 0:
        return (unshare, "-rn")
    return ()


def offline_env(tmp_path: Path) -> dict[str, str]:
    env = os.environ.copy()
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    # No extension cache, and any HTTP attempt would hit a closed port.
    env.update(HOME=str(home), http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9")
    return env


def test_analyze_default_report_offline(tmp_path):
    pytest.importorskip("duckdb")
    resolve_paths().ensure()
    with Store(resolve_paths().db) as store:  # two days old: counted, but not in the last-day histogram
        store.insert(
            source="pytest",
            event_type="pytest_session",
            fields=encode_fields("pytest", "pytest_session", {"rootdir": "/a", "outcome": "error"}),
            received_at=time.time_ns() - 2 * 86400 * 10**9,
        )
    seed()
    out = subprocess.run(
        [*_offline_prefix(), WAITBUS, "events", "analyze", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=offline_env(tmp_path),
    )
    assert out.returncode == 0, out.stderr
    report = msgspec.json.decode(out.stdout)
    assert report["by_type"][0] == {**report["by_type"][0], "source": "pytest", "events": 4}
    assert {(r["source"], r["event_type"], r["events"]) for r in report["by_type"]} == {
        ("pytest", "pytest_session", 4),
        ("docker", "docker_container", 1),
        ("github", "workflow_run", 1),
    }
    assert sum(h["events"] for h in report["per_hour"]) == 5
    assert sum(h["failures"] for h in report["per_hour"]) == 3
    failing = {r["entity"]: r["failures"] for r in report["top_failing"]}
    assert failing == {"pytest test session /a": 3, "docker container web": 1}
    assert report["top_failing"][0]["entity"] == "pytest test session /a"

    text = run_cli("events", "analyze", env=offline_env(tmp_path))
    assert text.returncode == 0
    for title in ("Events per source/event_type", "Events per hour, last 24 h (UTC)", "Top failing entities"):
        assert title in text.stdout


def test_analyze_custom_sql_and_errors(tmp_path):
    pytest.importorskip("duckdb")
    seed()
    sql = (
        "SELECT fields->>'outcome' AS outcome, count(*) AS n FROM events WHERE source = 'pytest' GROUP BY 1 ORDER BY 1"
    )
    out = run_cli("events", "analyze", "--sql", sql, "--json", env=offline_env(tmp_path))
    assert out.returncode == 0, out.stderr
    assert msgspec.json.decode(out.stdout) == [{"outcome": "failed", "n": 2}, {"outcome": "passed", "n": 1}]
    bad = run_cli("events", "analyze", "--sql", "SELEC nothing")
    assert bad.returncode == 2 and "syntax error" in bad.stderr
    leak = tmp_path / "leak.csv"
    copy = run_cli("events", "analyze", "--sql", f"COPY events TO '{leak}'")
    assert copy.returncode == 2 and not leak.exists()  # the DuckDB copy cannot touch files


def test_analyze_progress_goes_to_stderr(tmp_path):
    pytest.importorskip("duckdb")
    seed()
    out = run_cli("events", "analyze", "--progress", "--sql", "SELECT count(*) AS n FROM events", "--json")
    assert out.returncode == 0
    assert msgspec.json.decode(out.stdout) == [{"n": 5}]
    assert out.stderr.splitlines() == ["analyze: loading: 5/5 rows (100%)"]


def test_analyze_without_duckdb_says_what_to_install(tmp_path):
    seed()
    shadow = tmp_path / "shadow" / "duckdb"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('duckdb is hidden for this test')\n")
    env = os.environ.copy()
    env["PYTHONPATH"] = str(shadow.parent)
    out = run_cli("events", "analyze", env=env)
    assert out.returncode == 2
    assert "pip install 'waitbus-store[analyze]'" in out.stderr and "Traceback" not in out.stderr


def test_analyze_with_no_store_exits_2():
    pytest.importorskip("duckdb")
    out = run_cli("events", "analyze")
    assert out.returncode == 2 and "no event store" in out.stderr

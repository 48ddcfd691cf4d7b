"""waitbus-sources-pytest never breaks or slows a test run: with the state dir unusable, the
event log foreign, corrupt, too new, or held locked by another writer, real pytest
subprocesses (run with -W error) keep their exit status and their output, plus at most one
`waitbus:` line; and the plugin's cost on a healthy run is measured.

Helpers (project writer, inner pytest runner, log reader) are shared with
test_src_pytest_session.py, loaded from its file.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from pathlib import Path

import pytest

from tests._support import pytest_source as h

pytestmark = pytest.mark.timeout(120)


SUITE = "def test_ok(): pass\ndef test_bad(): assert 2 + 2 == 5\n"
_WARNING = "waitbus: session not published: "


def _comparable(stdout: str) -> list[str]:
    """pytest's output without the plugin's line and with timings blanked."""
    return [re.sub(r"\d+\.\d+s", "<t>", line) for line in stdout.splitlines() if not line.startswith("waitbus")]


def _state_is_a_file(state: Path) -> None:
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text("I am a regular file, not a directory\n")


def _foreign_sqlite(state: Path) -> None:
    state.mkdir(parents=True)
    conn = sqlite3.connect(state / "events.db")
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    conn.execute("INSERT INTO invoices (total) VALUES (12.5)")
    conn.commit()
    conn.close()


def _corrupt_file(state: Path) -> None:
    state.mkdir(parents=True)
    (state / "events.db").write_bytes(b"this is not a database, just bytes\n" * 200)


def _newer_schema(state: Path) -> None:
    state.mkdir(parents=True)
    conn = sqlite3.connect(state / "events.db")
    conn.execute(f"PRAGMA application_id = {0x57425553}")  # "WBUS": ours
    conn.execute("PRAGMA user_version = 99")  # but from a future waitbus
    conn.commit()
    conn.close()


BROKEN = {
    "state-dir-is-a-file": (_state_is_a_file, "File exists"),
    "foreign-sqlite": (_foreign_sqlite, "is not a waitbus event store"),
    "corrupt-file": (_corrupt_file, "not a SQLite file"),
    "newer-schema": (_newer_schema, "newer than this waitbus"),
}


def _snapshot(state: Path) -> dict[str, bytes]:
    if state.is_file():
        return {"": state.read_bytes()}
    return {p.name: p.read_bytes() for p in sorted(state.iterdir())} if state.is_dir() else {}


@pytest.mark.parametrize("failures", [False, True], ids=["session", "with-failure-events"])
@pytest.mark.parametrize("kind", sorted(BROKEN))
def test_broken_state_keeps_exit_status_and_output(tmp_path: Path, kind: str, failures: bool) -> None:
    make, hint = BROKEN[kind]
    state = Path(os.environ["WAITBUS_STATE_DIR"])
    make(state)
    before = _snapshot(state)
    proj = h.make_project(tmp_path, {"test_suite.py": SUITE})
    extra = ["--waitbus-failures"] if failures else []

    reference = h.run_pytest(proj, "-q", "-W", "error", "-p", "no:waitbus")
    run = h.run_pytest(proj, "-q", "-W", "error", *extra)

    assert reference.returncode == run.returncode == 1, run.stdout + run.stderr
    assert run.stderr == reference.stderr == ""
    notes = [line for line in run.stdout.splitlines() if "waitbus" in line]
    assert len(notes) == 1, run.stdout
    assert notes[0].startswith(_WARNING) and hint in notes[0], notes[0]
    assert _comparable(run.stdout) == _comparable(reference.stdout)
    assert run.stdout.splitlines()[-1].startswith("1 failed, 1 passed in ")  # pytest's own line stays last
    assert _snapshot(state) == before  # refused, not "repaired"


def test_without_a_terminal_the_one_line_goes_to_stderr(tmp_path: Path) -> None:
    _foreign_sqlite(Path(os.environ["WAITBUS_STATE_DIR"]))
    proj = h.make_project(tmp_path, {"test_suite.py": SUITE})
    run = h.run_pytest(proj, "-W", "error", "-p", "no:terminal")
    assert run.returncode == 1
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(_WARNING), run.stderr


def test_a_locked_log_costs_at_most_the_deadline(tmp_path: Path) -> None:
    """Another process holds the log's write lock: instead of SQLite's 10 s busy wait, the
    session end waits WAITBUS_PYTEST_TIMEOUT (0.5 s here), says so in one line, and exits
    with pytest's status. The abandoned write leaves nothing behind."""
    proj = h.make_project(tmp_path, {"test_suite.py": SUITE})
    assert h.run_pytest(proj, "-q").returncode == 1  # a healthy first run creates the log
    first = h.stored()
    holder = sqlite3.connect(Path(os.environ["WAITBUS_STATE_DIR"]) / "events.db", isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    try:
        t0 = time.monotonic()
        run = h.run_pytest(proj, "-q", "-W", "error", env=h.inner_env(WAITBUS_PYTEST_TIMEOUT="0.5"))
        wall = time.monotonic() - t0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert run.returncode == 1 and run.stderr == ""
    notes = [line for line in run.stdout.splitlines() if "waitbus" in line]
    assert len(notes) == 1 and "did not answer within 0.5s" in notes[0], run.stdout
    reported = float(re.search(r" in ([\d.]+)s", run.stdout.splitlines()[-1]).group(1))  # type: ignore[union-attr]
    assert 0.5 <= reported < 5, run.stdout
    assert wall < 9, wall  # below SQLite's own 10 s busy timeout
    assert h.stored() == first


def test_absent_hub_is_silent(tmp_path: Path) -> None:
    """The common case: no hub running. Nothing is printed; the event is in the log."""
    proj = h.make_project(tmp_path, {"test_suite.py": SUITE})
    run = h.run_pytest(proj, "-q", "-W", "error")
    assert run.returncode == 1
    assert "waitbus" not in run.stdout + run.stderr
    assert h.only_session()["fields"]["outcome"] == "failed"

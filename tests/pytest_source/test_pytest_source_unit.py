"""waitbus-sources-pytest, in-process: the outcome and summary rules, the caps, the
plugin door and entry points, the publisher's error and deadline handling, and that
loading the plugin imports nothing of the SDK. Real pytest sessions are driven in
integration/sources/test_src_pytest_session.py."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from waitbus_sources_pytest._fields import (
    LONGREPR_LIMIT,
    cap_args,
    counts_text,
    env_flag,
    iso_utc,
    outcome_of,
    session_summary,
    truncate_middle,
)
from waitbus_sources_pytest._publish import Publisher


@pytest.mark.parametrize(
    ("exitstatus", "collection_errors", "interrupted_by", "expected"),
    [
        (0, 0, None, "passed"),
        (1, 0, None, "failed"),
        (1, 2, None, "failed"),  # --continue-on-collection-errors: tests ran, some failed
        (5, 0, None, "no_tests"),
        (2, 0, "KeyboardInterrupt", "interrupted"),
        (2, 1, "KeyboardInterrupt", "interrupted"),  # Ctrl-C wins even after a collection error
        (2, 1, "Interrupted", "error"),  # "1 error during collection"
        (2, 0, "Interrupted", "interrupted"),  # a plugin set session.shouldstop
        (2, 0, "Exit", "interrupted"),  # pytest.exit()
        (3, 0, None, "error"),
        (4, 0, None, "error"),
        (7, 0, "Exit", "interrupted"),  # pytest.exit(returncode=7)
        (9, 0, None, "error"),
    ],
)
def test_outcome_from_exit_status(exitstatus: int, collection_errors: int, interrupted_by: str, expected: str) -> None:
    assert outcome_of(exitstatus, collection_errors=collection_errors, interrupted_by=interrupted_by) == expected


def test_counts_read_like_pytests_last_line() -> None:
    counts = {"passed": 40, "failed": 3, "errors": 2, "skipped": 1, "xfailed": 1, "xpassed": 0, "deselected": 4}
    assert counts_text(counts) == "3 failed, 40 passed, 1 skipped, 4 deselected, 1 xfailed, 2 errors"
    assert counts_text({"errors": 1}) == "1 error"
    assert counts_text(dict.fromkeys(counts, 0)) == "no tests ran"
    assert session_summary("failed", {"failed": 3, "passed": 40}, 12.3, "/p") == (
        "pytest failed: 3 failed, 40 passed in 12.30s (/p)"
    )


def test_longrepr_keeps_head_and_tail_within_the_limit() -> None:
    text = "HEAD" + "x" * 20_000 + "the assertion at the end"
    cut = truncate_middle(text)
    assert len(cut) == LONGREPR_LIMIT
    assert cut.startswith("HEAD") and cut.endswith("the assertion at the end")
    assert "characters cut" in cut
    assert truncate_middle("short") == "short"


def test_args_fit_a_budget() -> None:
    args = ["-q"] + [f"tests/test_{i}.py::test_x" for i in range(2000)]
    kept, dropped = cap_args(args, budget=1000)
    assert sum(map(len, kept)) <= 1000 and kept[0] == "-q"
    assert len(kept) + dropped == len(args) and dropped > 0
    long_arg, _ = cap_args(["y" * 5000])
    assert len(long_arg[0]) == 1024 and long_arg[0].endswith("...")
    assert cap_args(["-x", "a.py"]) == (["-x", "a.py"], 0)


def test_env_flag() -> None:
    assert [env_flag(v) for v in ("1", "true", "ON", " yes ")] == [True] * 4
    assert [env_flag(v) for v in ("0", "false", "Off", "no")] == [False] * 4
    assert env_flag(None) is None and env_flag("maybe") is None


def test_iso_utc() -> None:
    assert iso_utc(0) == "1970-01-01T00:00:00.000Z"


# -- the doors ---------------------------------------------------------------------------


def test_declared_through_the_source_door() -> None:
    import waitbus_sources_pytest
    from waitbus._sources import get_source

    spec = get_source("pytest")
    assert spec is waitbus_sources_pytest.SOURCE
    assert spec.event_types == ("pytest_session", "pytest_failure")
    assert spec.entity_key == ("fields.rootdir",)
    assert "{fields.outcome}" in spec.summary and spec.runner is None and spec.routes == ()
    assert "SOURCE" in dir(waitbus_sources_pytest)
    with pytest.raises(AttributeError):
        _ = waitbus_sources_pytest.NOPE


def test_registered_as_the_pytest_plugin_named_waitbus() -> None:
    (ep,) = [ep for ep in entry_points(group="pytest11") if ep.name == "waitbus"]
    module = ep.load()
    assert module.__name__ == "waitbus_sources_pytest._plugin"
    assert callable(module.pytest_configure) and callable(module.pytest_addoption)


@pytest.mark.timeout(60)
def test_loading_the_plugin_imports_none_of_the_sdk(tmp_path: Path) -> None:
    """pytest imports the plugin at start-up: that must not pull in the SDK, the store or
    sqlite3 (they load on the publishing thread at session end). SOURCE loads the spec only."""
    probe = (
        "import sys, json\n"
        "import waitbus_sources_pytest._plugin\n"
        "heavy = ('waitbus', 'waitbus_store', 'waitbus_wire', 'msgspec', 'sqlite3', '_sqlite3')\n"
        "first = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "import waitbus_sources_pytest\n"
        "waitbus_sources_pytest.SOURCE\n"
        "second = sorted(m for m in sys.modules if m.split('.')[0] in heavy + ('pydantic', 'typer'))\n"
        "print(json.dumps([first, second]))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONSTARTUP", "PYTHONPATH"}}
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, cwd=tmp_path, env=env, check=True
    )
    first, second = json.loads(out.stdout)
    assert first == []
    assert "waitbus._sources" in second
    assert not [m for m in second if m.split(".")[0] in {"waitbus_store", "sqlite3", "_sqlite3", "pydantic", "typer"}]


# -- the publisher -----------------------------------------------------------------------


def _rows(state_dir: Path) -> list[tuple[str, str, dict[str, object]]]:
    with sqlite3.connect(f"file:{state_dir / 'events.db'}?mode=ro", uri=True) as conn:
        rows = conn.execute("SELECT event_type, delivery_id, fields FROM events ORDER BY seq").fetchall()
    conn.close()
    return [(t, d, json.loads(f)) for t, d, f in rows]


def test_publisher_writes_the_log_without_a_hub(waitbus_env: dict[str, str]) -> None:
    pub = Publisher()
    pub.submit("pytest_failure", {"nodeid": "t.py::a"}, "one", "sess-1")
    pub.submit("pytest_session", {"outcome": "failed"}, "two", "sess")
    assert pub.finish(10) is None
    assert pub.published == 2
    rows = _rows(Path(waitbus_env["WAITBUS_STATE_DIR"]))
    assert [(t, d, f["source"]) for t, d, f in rows] == [
        ("pytest_failure", "sess-1", "pytest"),
        ("pytest_session", "sess", "pytest"),
    ]


def test_publisher_with_nothing_to_do_starts_no_thread() -> None:
    before = threading.active_count()
    assert Publisher().finish(1) is None
    assert threading.active_count() == before


def test_publisher_reports_a_broken_state_dir_and_never_raises(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []
    monkeypatch.setattr(threading, "excepthook", seen.append)
    not_a_dir = tmp_path / "regular-file"
    not_a_dir.write_text("x")
    monkeypatch.setenv("WAITBUS_STATE_DIR", str(not_a_dir))
    pub = Publisher()
    pub.submit("pytest_session", {}, "s", "d1")
    pub.submit("pytest_session", {}, "s", "d2")  # after the first error: dropped, not retried
    problem = pub.finish(10)
    assert problem is not None and problem.startswith("PathError") and str(not_a_dir) in problem
    assert pub.published == 0 and seen == []


@pytest.mark.timeout(60)
def test_publisher_gives_up_at_its_deadline_on_a_locked_log(waitbus_env: dict[str, str]) -> None:
    """Another writer holds the log locked: finish() returns at its deadline (SQLite's own
    busy wait would be 10 s); once the lock goes, the thread completes the write."""
    state = Path(waitbus_env["WAITBUS_STATE_DIR"])
    warm = Publisher()
    warm.submit("pytest_session", {}, "warm", "warm")
    assert warm.finish(10) is None  # the log and its schema exist now
    holder = sqlite3.connect(state / "events.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    pub = Publisher()
    try:
        pub.submit("pytest_session", {"n": 1}, "late", "late")
        t0 = time.monotonic()
        problem = pub.finish(0.3)
        waited = time.monotonic() - t0
        assert problem is not None and "within 0.3s" in problem
        assert 0.25 < waited < 3
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert pub._thread is not None
    pub._thread.join(15)  # it was waiting on the lock, not stuck: it finishes and writes
    assert not pub._thread.is_alive()
    assert [d for _, d, _ in _rows(state)] == ["warm", "late"]

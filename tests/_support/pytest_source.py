"""Running real pytest sessions with waitbus-sources-pytest loaded from its entry point,
in this venv or in fresh venvs from wheels: shared by integration/sources and the
bridge's CI-image test."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

# Hypothesis's pytest plugin imports all of hypothesis at start-up (0.4 s here): off in
# the inner runs to keep them fast. It has nothing to do with what is tested.
FAST = ("-p", "no:hypothesispytest")
_PYTEST_ENV = {"PYTEST_ADDOPTS", "PYTEST_PLUGINS", "PYTEST_DISABLE_PLUGIN_AUTOLOAD", "PYTEST_CURRENT_TEST"}


def make_project(root: Path, files: dict[str, str]) -> Path:
    proj = root / "proj"
    proj.mkdir()
    (proj / "pytest.ini").write_text("[pytest]\n")
    for name, text in files.items():
        (proj / name).write_text(text)
    return proj


def inner_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _PYTEST_ENV and not k.startswith("WAITBUS_PYTEST")}
    env.update(extra)
    return env


def run_pytest(proj: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", *FAST, *args],
        cwd=proj,
        env=env or inner_env(),
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )


def stored(state_dir: str | None = None) -> list[dict[str, Any]]:
    """Every stored event, oldest first, with `fields` decoded."""
    db = Path(state_dir or os.environ["WAITBUS_STATE_DIR"]) / "events.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT event_id, source, event_type, delivery_id, summary, fields FROM events ORDER BY seq"
        ).fetchall()
    finally:
        conn.close()
    keys = ("event_id", "source", "event_type", "delivery_id", "summary")
    return [dict(zip(keys, row[:5], strict=True), fields=json.loads(row[5])) for row in rows]


def only_session(state_dir: str | None = None) -> dict[str, Any]:
    events = stored(state_dir)
    sessions = [e for e in events if e["event_type"] == "pytest_session"]
    assert len(sessions) == 1, events
    assert sessions[0]["source"] == "pytest"
    return sessions[0]


def pytest_counts_line(stdout: str) -> str:
    """pytest's own last line without its timing: '1 failed, 2 passed'."""
    last = stdout.strip().splitlines()[-1].strip("= ")
    return re.sub(r" in [\d.]+s.*$", "", last)


# -- fresh venvs from wheels ------------------------------------------------------------------

# What a CI image with only the pytest source must not pull in.
FORBIDDEN = {"waitbus-hub", "waitbus-cli", "waitbus", "typer", "pydantic", "pydantic-settings", "prometheus-client"}
_DROP = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP", "PYTEST_ADDOPTS", "PYTEST_PLUGINS"}


def install_env() -> dict[str, str]:
    """This environment without what would leak into a fresh venv or an inner pytest."""
    env = {k: v for k, v in os.environ.items() if k not in _DROP and k != "PYTEST_DISABLE_PLUGIN_AUTOLOAD"}
    env.pop("PYTEST_CURRENT_TEST", None)
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def run_clean(cmd: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cmd, capture_output=True, text=True, timeout=timeout, env=install_env(), check=False, **kwargs
    )


def tiny_project(root: Path) -> Path:
    """A project of three passing tests and one failing one."""
    proj = root / "proj"
    proj.mkdir()
    (proj / "pytest.ini").write_text("[pytest]\n")
    (proj / "test_tiny.py").write_text(
        "".join(f"def test_{i}(): pass\n" for i in range(3)) + "def test_x(): assert 0\n"
    )
    return proj

"""Helpers shared by the fault tests (integration/faults, and the idle-exit test)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

# re-exported: the fault tests call fh.WAITBUS and fh.wait_until
from tests._support import WAITBUS, run_cli, wait_until


def cli(*args: str, timeout: float = 60, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real `waitbus` console script, as a user runs it, with `env` over this environment."""
    return run_cli(*args, timeout=timeout, env={**os.environ, **(env or {})})


def db_path() -> Path:
    from waitbus_store import resolve_paths

    return resolve_paths().db


def stored(source: str | None = None) -> list[dict[str, Any]]:
    """Every stored event (oldest first): the row's columns, with `fields` decoded."""
    from waitbus_store import Store

    if not db_path().exists():
        return []
    with Store(db_path()) as store:
        rows = store.read_after(0, 1_000_000)
    return [{**r._asdict(), "fields": json.loads(r.fields)} for r in rows if source in (None, r.source)]


def integrity_ok() -> bool:
    from waitbus_store import Store

    with Store(db_path()) as store:
        return bool(store.connection.execute("PRAGMA integrity_check").fetchall() == [("ok",)])


def line_count(path: Path) -> int:
    return len(path.read_text().split()) if path.exists() else 0


__all__ = ["WAITBUS", "cli", "db_path", "integrity_ok", "line_count", "stored", "wait_until"]

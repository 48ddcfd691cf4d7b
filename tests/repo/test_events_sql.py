"""Only waitbus-store writes SQL on its events table: every other distribution reads the
log through `waitbus_store.open_reader()` (docs/store.md, "Reading").

The one exception is the user's own SQL: `waitbus events query` runs the user's text on
the store's read-only connection, and `events analyze` runs it (and its built-in reports)
on DuckDB's copy of the log. Both live in waitbus_cli/_query_cmd.py, the file allowed here.

Every string literal (f-strings too) under a package's src/ is read with ast; one that
names the events table the way SQL does (`FROM events`, `INTO events`, `UPDATE events`,
`JOIN events`, `TABLE events`) is a finding.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

STORE = "waitbus-store"
# file (relative to its package's src/) -> why it may hold SQL on the events table
ALLOWED = {
    "waitbus_cli/_query_cmd.py": "the user's own SQL: `events query` and `events analyze`",
}
SQL_ON_EVENTS = re.compile(r"\b(?:from|into|update|join|table)\s+events\b", re.IGNORECASE)


def sql_strings(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of each string literal, or f-string's literal parts, that is SQL on events."""
    found: list[tuple[int, str]] = []
    parts = {id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values}
    for node in ast.walk(tree):
        if id(node) in parts:
            continue  # read with its f-string
        if isinstance(node, ast.JoinedStr):
            text = "?".join(v.value if isinstance(v, ast.Constant) else "" for v in node.values)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
        else:
            continue
        if SQL_ON_EVENTS.search(text):
            found.append((node.lineno, " ".join(text.split())[:80]))
    return found


def offenders(src: Path) -> list[str]:
    bad = []
    for file in sorted(src.rglob("*.py")):
        rel = file.relative_to(src).as_posix()
        if rel in ALLOWED:
            continue
        for line, text in sql_strings(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            bad.append(f"{rel}:{line}: {text}")
    return bad


def test_no_sql_on_the_events_table_outside_the_store(package: Any) -> None:
    src = package.dir / "src"
    if package.name == STORE or not src.is_dir():
        return
    bad = offenders(src)
    assert not bad, (
        f"{package.name} writes SQL on the events table; read through waitbus_store.open_reader() "
        "(add the query to waitbus_store.Reader if it is missing):\n" + "\n".join(bad)
    )


def test_the_allowed_files_exist(packages: Any) -> None:
    """An allowance for a file that moved or went away would hide nothing: drop it."""
    files = {f.relative_to(p.dir / "src").as_posix() for p in packages for f in (p.dir / "src").rglob("*.py")}
    assert set(ALLOWED) <= files


def test_the_scan_finds_each_kind_of_sql(tmp_path: Path) -> None:
    pkg = tmp_path / "waitbus_x"
    pkg.mkdir()
    (pkg / "_a.py").write_text(
        'Q1 = "SELECT count(*) FROM events"\n'
        'Q2 = f"SELECT {cols} FROM events WHERE seq > ?"\n'
        'Q3 = """INSERT INTO events (a) VALUES (?)"""\n'
        "Q4 = 'update  events set x = 1'\n"
        'Q5 = "SELECT * FROM bookmarks JOIN events USING (event_id)"\n'
        'OK1 = "print the newest events from the log"\n'
        "# SELECT * FROM events in a comment is not code\n"
        'OK2 = "SELECT * FROM events_archive"\n'
    )
    assert [line.split(":")[1] for line in offenders(tmp_path)] == ["1", "2", "3", "4", "5"]

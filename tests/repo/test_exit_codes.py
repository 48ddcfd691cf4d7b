"""Exit codes are defined in one place, waitbus_wire.ExitCode, and docs/exit-codes.md
describes every one of them."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from waitbus_wire import ExitCode

REPO = Path(__file__).resolve().parents[2]
HOME = REPO / "packages/waitbus-wire/src/waitbus_wire/_exit.py"
_CONST = {m.name for m in ExitCode}
_NAME_RE = re.compile(r"(^|_)(exit|code|status)($|_)", re.I)


def _names(target: ast.expr) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple):
        return [n for elt in target.elts for n in _names(elt)]
    return []


def _ints(value: ast.expr | None) -> bool:
    if isinstance(value, ast.Tuple):
        return bool(value.elts) and all(_ints(v) for v in value.elts)
    return isinstance(value, ast.Constant) and type(value.value) is int and value.value in {int(c) for c in ExitCode}


def literal_exit_codes(source: str) -> list[tuple[int, str]]:
    """(line, name) for each name bound to an exit-code number written as a literal."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign):
            targets, value = [node.target], node.value
        else:
            continue
        names = [n for t in targets for n in _names(t)]
        if _ints(value) and any(n in _CONST or _NAME_RE.search(n) for n in names):
            found.append((node.lineno, ", ".join(names)))
    return found


def test_no_package_defines_an_exit_code_of_its_own() -> None:
    bad = [
        f"{path.relative_to(REPO)}:{line}: {names}"
        for path in sorted(REPO.glob("packages/*/src/**/*.py"))
        if path != HOME
        for line, names in literal_exit_codes(path.read_text(encoding="utf-8"))
    ]
    assert not bad, "use waitbus_wire.ExitCode (or waitbus.ExitCode) instead of a number:\n" + "\n".join(bad)


def test_the_scan_sees_the_forms_exit_codes_were_written_in() -> None:
    src = "EXIT_OK, EXIT_CONFIG = 0, 2\nUSAGE = 2\ncode = 141\nNOT_AN_EXIT = 'x'\nlimit = 2\nUSAGE = ExitCode.USAGE\n"
    assert literal_exit_codes(src) == [(1, "EXIT_OK, EXIT_CONFIG"), (2, "USAGE"), (3, "code")]


def test_docs_exit_codes_describes_every_code() -> None:
    text = (REPO / "docs/exit-codes.md").read_text(encoding="utf-8")
    listed = {int(m) for m in re.findall(r"^\| (\d+) \|", text, re.M)}
    assert {int(c) for c in ExitCode} <= listed, "docs/exit-codes.md lacks a row for some ExitCode"

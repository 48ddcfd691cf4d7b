"""No distribution imports another's private module or name: each uses the others only
through what their `__init__` makes public (a leading underscore means private).

Every `import`, `from ... import` and `importlib.import_module("literal")` under a
package's src/ is read with ast, wherever it sits (module level, functions, TYPE_CHECKING).
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _private(parts: list[str]) -> bool:
    return any(p.startswith("_") and not (p.startswith("__") and p.endswith("__")) for p in parts)


def imported_names(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, dotted name) for every absolute import, one per imported name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{a.name}") for a in node.names if a.name != "*"]
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            literal = getattr(node.args[0], "value", None)
            if name in {"import_module", "__import__"} and isinstance(literal, str) and not literal.startswith("."):
                found.append((node.lineno, literal))
    return found


def offenders(src: Path) -> list[str]:
    own = {p.name for p in src.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    bad = []
    for file in sorted(src.rglob("*.py")):
        for line, name in imported_names(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            parts = name.split(".")
            if parts[0].startswith("waitbus") and parts[0] not in own and _private(parts[1:]):
                bad.append(f"{file.relative_to(src.parent)}:{line}: {name}")
    return bad


def test_no_distribution_imports_another_distributions_private_names(package: Any) -> None:
    src = package.dir / "src"
    if not src.is_dir():
        return  # the meta-package has no code
    bad = offenders(src)
    assert not bad, (
        f"{package.name} reaches into another distribution's private modules; make the name "
        "public in that package's __init__ (or move it down the stack):\n" + "\n".join(bad)
    )


def test_the_scan_finds_each_kind_of_private_import(tmp_path: Path) -> None:
    pkg = tmp_path / "waitbus_x"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "_mine.py").write_text(
        "from waitbus_x._other import ok\n"  # its own private module: fine
        "import waitbus._match\n"
        "from waitbus_store._dirs import DB_NAME\n"
        "from waitbus_wire import _dumps\n"
        "def f():\n"
        "    from waitbus import Matcher\n"  # public: fine
        "    import importlib\n"
        "    importlib.import_module('waitbus_hub._main')\n"
    )
    found = [line.rsplit(": ", 1)[1] for line in offenders(tmp_path)]
    assert found == ["waitbus._match", "waitbus_store._dirs.DB_NAME", "waitbus_wire._dumps", "waitbus_hub._main"]

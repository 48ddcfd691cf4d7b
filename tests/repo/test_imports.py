"""Static import hygiene: what each package's code imports is what its pyproject declares,
and internal dependencies only point down the stack (wire <- store <- hub / sdk <- ...).

Every ``import``/``from ... import`` under a package's src/ is found with ast (plus
``importlib.import_module("literal")``). An import that runs when its module is imported
(module level, not inside a function, not under ``try: ... except ImportError`` and not under
``if TYPE_CHECKING``) needs a core dependency; any other import may come from an extra.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]

# Top-level module -> distribution, where the two differ or the module may not be installed here.
THIRD_PARTY = {
    "msgspec": "msgspec",
    "platformdirs": "platformdirs",
    "prometheus_client": "prometheus-client",
    "typer": "typer",
    "click": "click",
    "rich": "rich",
    "pydantic": "pydantic",
    "duckdb": "duckdb",
    "yaml": "pyyaml",
    "mcp": "mcp",
    "docker": "docker",
    "watchdog": "watchdog",
    "httpx": "httpx",
    "pytest": "pytest",
    "_pytest": "pytest",
    "pluggy": "pluggy",
    "nats": "nats-py",
    "stamina": "stamina",
}

# The one-way rule, for the packages the rest of the stack is built on.
ALLOWED_INTERNAL = {
    "waitbus-wire": set(),
    "waitbus-store": {"waitbus-wire"},
    "waitbus-hub": {"waitbus-wire", "waitbus-store"},
    "waitbus-sdk": {"waitbus-wire", "waitbus-store"},
}


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert m is not None, requirement
    return normalize(m.group(1))


@dataclass(frozen=True)
class Import:
    module: str  # top-level module name
    file: Path
    line: int
    eager: bool  # runs unconditionally when the containing module is imported

    def where(self) -> str:
        return f"{self.file.relative_to(REPO)}:{self.line}"


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError", "Exception"} for n in names)


class _Collector(ast.NodeVisitor):
    def __init__(self, file: Path) -> None:
        self.file = file
        self.found: list[Import] = []
        self._lazy = 0  # nesting depth of function bodies, import guards and TYPE_CHECKING blocks

    def _add(self, module: str, node: ast.AST) -> None:
        self.found.append(Import(module.partition(".")[0], self.file, getattr(node, "lineno", 0), self._lazy == 0))

    def _lazily(self, nodes: list[Any]) -> None:
        self._lazy += 1
        for node in nodes:
            self.visit(node)
        self._lazy -= 1

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._add(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self._add(node.module, node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in {"import_module", "__import__"} and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
                self._add(first.value, node)
        self.generic_visit(node)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for child in [*node.decorator_list, *node.args.defaults, *node.args.kw_defaults]:
            if child is not None:
                self.visit(child)  # these run when the function is defined
        self._lazily(node.body)

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._lazily([node.body])

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            self._lazily(node.body)
            for child in node.orelse:
                self.visit(child)
        else:
            self.generic_visit(node)

    def visit_Try(self, node: ast.Try) -> None:
        if any(_catches_import_error(h) for h in node.handlers):
            self._lazily(node.body)
        else:
            for child in node.body:
                self.visit(child)
        rest: list[ast.AST] = [*node.handlers, *node.orelse, *node.finalbody]
        for later in rest:
            self.visit(later)

    visit_TryStar = visit_Try  # type: ignore[assignment]


def scan(source: str, file: Path) -> list[Import]:
    collector = _Collector(file)
    collector.visit(ast.parse(source, filename=str(file)))
    return collector.found


@cache
def _packages() -> dict[str, dict[str, Any]]:
    """dist -> {"dir", "deps" (core), "extras" (names from every extra), "modules" (top-level)}."""
    out: dict[str, dict[str, Any]] = {}
    for pyproject in sorted((REPO / "packages").glob("*/pyproject.toml")):
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        project, requirements = data["project"], data["tool"]["hatch"]["metadata"]["hooks"]["custom"]
        src = pyproject.parent / "src"
        modules = (
            {p.name.removesuffix(".py") for p in src.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
            if src.is_dir()
            else set()
        )
        out[normalize(project["name"])] = {
            "dir": pyproject.parent,
            "deps": {requirement_name(r) for r in requirements.get("dependencies", [])},
            "extras": {requirement_name(r) for e in requirements.get("optional-dependencies", {}).values() for r in e},
            "modules": modules,
        }
    return out


@cache
def _module_owners() -> dict[str, str]:
    owners = {m: dist for dist, info in _packages().items() for m in info["modules"]}
    installed = importlib.metadata.packages_distributions()
    for module, dists in installed.items():
        if module not in owners and module not in THIRD_PARTY and len(dists) == 1:
            owners[module] = normalize(dists[0])
    owners.update({m: normalize(d) for m, d in THIRD_PARTY.items() if m not in owners})
    return owners


def distribution_of(module: str) -> str | None:
    """The distribution providing top-level ``module``; None for the standard library."""
    if module in sys.stdlib_module_names:
        return None
    owner = _module_owners().get(module)
    if owner is None:
        pytest.fail(f"unknown top-level module {module!r}: add it to THIRD_PARTY in {Path(__file__).name}")
    return owner


def imports_of(dist: str) -> list[Import]:
    src = _packages()[dist]["dir"] / "src"
    found: list[Import] = []
    for file in sorted(src.rglob("*.py")) if src.is_dir() else []:
        found.extend(scan(file.read_text(encoding="utf-8"), file))
    return found


# -- the scanner itself ------------------------------------------------------------------------


def test_scanner_tells_eager_from_lazy_imports(tmp_path: Path) -> None:
    source = """
from __future__ import annotations
import os.path, msgspec as m
from typing import TYPE_CHECKING
from . import sibling
from .x import y
if TYPE_CHECKING:
    import pydantic
try:
    import duckdb
except ImportError:
    duckdb = None
def f():
    import typer
    from prometheus_client import Counter
    importlib.import_module("platformdirs")
"""
    got = {(i.module, i.eager) for i in scan(source, tmp_path / "m.py")}
    assert got == {
        ("__future__", True),
        ("os", True),
        ("msgspec", True),
        ("typing", True),
        ("pydantic", False),
        ("duckdb", False),
        ("typer", False),
        ("prometheus_client", False),
        ("platformdirs", False),
    }


def test_module_names_map_to_distributions() -> None:
    assert distribution_of("json") is None
    assert distribution_of("waitbus") == "waitbus-sdk"
    assert distribution_of("waitbus_sources_fs") == "waitbus-sources-fs"
    assert distribution_of("prometheus_client") == "prometheus-client"
    assert distribution_of("msgspec") == "msgspec"


# -- the packages --------------------------------------------------------------------------------


def test_imports_are_declared(package: Any) -> None:
    info = _packages()[package.dist]
    undeclared, not_core = [], []
    for imp in imports_of(package.dist):
        dist = distribution_of(imp.module)
        if dist is None or dist == package.dist:
            continue
        if dist not in info["deps"] | info["extras"]:
            undeclared.append(f"{imp.where()}: {imp.module} ({dist})")
        elif imp.eager and dist not in info["deps"]:
            not_core.append(f"{imp.where()}: {imp.module} ({dist}) is only in an extra but imported unguarded")
    assert not undeclared, f"{package.name} imports distributions it does not declare:\n" + "\n".join(undeclared)
    assert not not_core, "\n".join(not_core)


@pytest.mark.parametrize("dist", sorted(ALLOWED_INTERNAL))
def test_internal_dependencies_point_down_the_stack(dist: str) -> None:
    info = _packages()[dist]
    internal = set(_packages())
    allowed = ALLOWED_INTERNAL[dist]
    declared = info["deps"] & internal
    assert declared <= allowed, f"{dist} declares {sorted(declared - allowed)}; allowed: {sorted(allowed)}"
    imported = {d for i in imports_of(dist) if (d := distribution_of(i.module)) in internal and d != dist}
    assert imported <= allowed, f"{dist} imports {sorted(imported - allowed)}; allowed: {sorted(allowed)}"


def test_internal_dependency_graph_is_acyclic() -> None:
    packages = _packages()
    graph = {dist: info["deps"] & set(packages) for dist, info in packages.items()}
    done: set[str] = set()

    def visit(dist: str, path: tuple[str, ...]) -> None:
        assert dist not in path, f"dependency cycle: {' -> '.join((*path, dist))}"
        if dist in done:
            return
        for dep in graph[dist]:
            visit(dep, (*path, dist))
        done.add(dist)

    for dist in graph:
        visit(dist, ())

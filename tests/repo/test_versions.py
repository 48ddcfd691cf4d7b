"""One version for the whole workspace, exact internal pins, and tools/bump_version.py
(exercised on a copy of the tree, never on the checkout itself)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "bump_version.py"

try:
    from packaging.requirements import Requirement
except ImportError:  # pragma: no cover - packaging ships with build, which the test group installs
    Requirement = None  # type: ignore[assignment,misc]

_NAME_RE = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*([^;]*)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse(requirement: str) -> tuple[str, list[tuple[str, str]]]:
    """(normalised name, [(operator, version), ...]) of a requirement string."""
    if Requirement is not None:
        req = Requirement(requirement)
        return normalize(req.name), [(s.operator, s.version) for s in req.specifier]
    m = _NAME_RE.match(requirement)
    assert m is not None, requirement
    specs = re.findall(r"(===|==|!=|~=|<=|>=|<|>)\s*([^\s,]+)", m.group(2))
    return normalize(m.group(1)), specs


def pyprojects(root: Path) -> list[Path]:
    return [root / "pyproject.toml", *sorted((root / "packages").glob("*/pyproject.toml"))]


def requirements(data: dict[str, Any]) -> Iterator[str]:
    project = data.get("project", {})
    yield from project.get("dependencies", [])
    for extra in project.get("optional-dependencies", {}).values():
        yield from extra
    for group in data.get("dependency-groups", {}).values():
        yield from (item for item in group if isinstance(item, str))


def internal_names(root: Path) -> set[str]:
    return {
        normalize(tomllib.loads(p.read_text())["project"]["name"]) for p in (root / "packages").glob("*/pyproject.toml")
    }


def versions_and_pins(root: Path) -> tuple[dict[str, str], list[tuple[str, str, list[tuple[str, str]]]]]:
    """({file: version}, [(file, internal dist, specifiers)]) for a tree."""
    internal = internal_names(root)
    versions: dict[str, str] = {}
    pins = []
    for path in pyprojects(root):
        data = tomllib.loads(path.read_text())
        label = path.relative_to(root).as_posix()
        versions[label] = data["project"]["version"]
        for req in requirements(data):
            name, specs = parse(req)
            if name in internal:
                pins.append((label, name, specs))
    return versions, pins


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(TOOL), *args], capture_output=True, text=True, timeout=60)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the root pyproject.toml and the packages/ tree, for the tool to rewrite."""
    root = tmp_path / "repo"
    root.mkdir()
    shutil.copy2(REPO / "pyproject.toml", root / "pyproject.toml")
    shutil.copytree(
        REPO / "packages",
        root / "packages",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "build", "dist"),
    )
    return root


# -- the checkout ------------------------------------------------------------------------------


def test_every_distribution_has_the_same_version() -> None:
    versions, _ = versions_and_pins(REPO)
    assert len(set(versions.values())) == 1, versions


def test_every_internal_requirement_pins_exactly_that_version() -> None:
    versions, pins = versions_and_pins(REPO)
    (common,) = set(versions.values())
    assert pins, "expected internal requirements (the meta-package pins every distribution)"
    wrong = [(label, name, specs) for label, name, specs in pins if specs != [("==", common)]]
    assert not wrong, f"internal requirements must be exactly =={common}: {wrong}"


def test_meta_package_pins_every_distribution() -> None:
    _, pins = versions_and_pins(REPO)
    pinned = {name for label, name, _ in pins if label == "packages/waitbus/pyproject.toml"}
    assert pinned == internal_names(REPO) - {"waitbus"}


def test_check_passes_on_the_checkout() -> None:
    result = run_tool("--check")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "agree on version" in result.stdout


# -- bump_version.py on a copy ------------------------------------------------------------------


def test_bump_rewrites_every_version_and_pin(tree: Path) -> None:
    before = {p: p.read_text() for p in pyprojects(tree)}
    old_versions, old_pins = versions_and_pins(tree)

    result = run_tool("--root", str(tree), "9.8.7rc1")
    assert result.returncode == 0, result.stdout + result.stderr

    versions, pins = versions_and_pins(tree)
    assert set(versions) == set(old_versions)
    assert set(versions.values()) == {"9.8.7rc1"}
    assert len(pins) == len(old_pins)
    assert all(specs == [("==", "9.8.7rc1")] for _, _, specs in pins), pins
    for label in versions:
        assert f"{label}: version" in result.stdout, f"{label} not reported as changed"

    # Only version and pin lines changed: comments, layout and third-party requirements survive.
    old_version = next(iter(set(old_versions.values())))
    for path, text in before.items():
        after = path.read_text()
        old_lines, new_lines = text.splitlines(), after.splitlines()
        assert len(old_lines) == len(new_lines)
        for old, new in zip(old_lines, new_lines, strict=True):
            if old != new:
                assert old.replace(old_version, "9.8.7rc1") == new, (path, old, new)

    check = run_tool("--root", str(tree), "--check")
    assert check.returncode == 0, check.stdout + check.stderr
    assert run_tool("--root", str(tree), "--check", "9.8.7rc1").returncode == 0


def test_bump_twice_is_a_no_op(tree: Path) -> None:
    assert run_tool("--root", str(tree), "0.2.0").returncode == 0
    snapshot = {p: p.read_bytes() for p in pyprojects(tree)}
    again = run_tool("--root", str(tree), "0.2.0")
    assert again.returncode == 0
    assert "nothing to change" in again.stdout
    assert snapshot == {p: p.read_bytes() for p in pyprojects(tree)}


def test_bump_repairs_a_drifted_pin(tree: Path) -> None:
    cli = tree / "packages" / "waitbus-cli" / "pyproject.toml"
    cli.write_text(cli.read_text().replace('"waitbus-hub==0.1.0"', '"waitbus-hub==0.0.9"'))
    assert run_tool("--root", str(tree), "--check").returncode == 1
    assert run_tool("--root", str(tree), "0.2.0").returncode == 0
    assert '"waitbus-hub==0.2.0"' in cli.read_text()
    assert run_tool("--root", str(tree), "--check").returncode == 0


def test_check_lists_a_version_disagreement(tree: Path) -> None:
    hub = tree / "packages" / "waitbus-hub" / "pyproject.toml"
    hub.write_text(hub.read_text().replace('version = "0.1.0"', 'version = "0.1.1"', 1))
    result = run_tool("--root", str(tree), "--check")
    assert result.returncode == 1
    assert "packages/waitbus-hub/pyproject.toml: version 0.1.1" in result.stdout


def test_check_lists_a_pin_that_is_not_the_common_version(tree: Path) -> None:
    sdk = tree / "packages" / "waitbus-sdk" / "pyproject.toml"
    sdk.write_text(sdk.read_text().replace('"waitbus-store==0.1.0"', '"waitbus-store>=0.1"'))
    result = run_tool("--root", str(tree), "--check")
    assert result.returncode == 1
    assert "packages/waitbus-sdk/pyproject.toml" in result.stdout
    assert "waitbus-store>=0.1" in result.stdout


def test_check_against_an_explicit_version(tree: Path) -> None:
    result = run_tool("--root", str(tree), "--check", "0.3.0")
    assert result.returncode == 1
    assert "expected 0.3.0" in result.stdout


@pytest.mark.parametrize("bad", ["banana", "1.0.0-", "1..0", "v1.0", "1.0+local", "01.0", ""])
def test_invalid_version_is_refused(tree: Path, bad: str) -> None:
    snapshot = {p: p.read_bytes() for p in pyprojects(tree)}
    result = run_tool("--root", str(tree), bad)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "PEP 440" in result.stderr
    assert repr(bad) in result.stderr
    assert snapshot == {p: p.read_bytes() for p in pyprojects(tree)}


def test_a_version_is_required_without_check(tree: Path) -> None:
    result = run_tool("--root", str(tree))
    assert result.returncode == 2
    assert "--check" in result.stderr


def test_root_without_packages_is_refused(tmp_path: Path) -> None:
    result = run_tool("--root", str(tmp_path), "--check")
    assert result.returncode == 2
    assert "packages" in result.stderr


def test_bump_handles_literal_strings_markers_and_other_tables(tmp_path: Path) -> None:
    (tmp_path / "packages" / "a").mkdir(parents=True)
    (tmp_path / "packages" / "b").mkdir()
    a = tmp_path / "packages" / "a" / "pyproject.toml"
    a.write_text(
        "[project]\n"
        'name = "Pkg_A"\n'
        "version = '0.1.0'  # the version\n"
        "dependencies = [\n"
        "  'pkg-b == 0.1.0 ; python_version >= \"3.11\"',  # a literal string\n"
        '  "pkg.b[x]==0.1.0; sys_platform == \\"linux\\"",\n'
        '  "other==0.1.0",\n'
        "]\n"
        "[tool.x]\n"
        'version = "0.1.0"\n'
    )
    b = tmp_path / "packages" / "b" / "pyproject.toml"
    b.write_text('[project]\nname = "pkg-b"\nversion = "0.1.0"\n')

    result = run_tool("--root", str(tmp_path), "1.0")
    assert result.returncode == 0, result.stdout + result.stderr
    data = tomllib.loads(a.read_text())
    assert data["project"]["version"] == "1.0"
    assert data["project"]["dependencies"] == [
        'pkg-b == 1.0 ; python_version >= "3.11"',
        'pkg.b[x]==1.0; sys_platform == "linux"',
        "other==0.1.0",  # not one of ours
    ]
    assert data["tool"]["x"]["version"] == "0.1.0"  # only [project] version moves
    assert "# the version" in a.read_text()
    assert "# a literal string" in a.read_text()
    assert tomllib.loads(b.read_text())["project"]["version"] == "1.0"

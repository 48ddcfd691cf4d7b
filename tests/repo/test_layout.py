"""Every distribution under packages/ has the same shape: pyproject.toml, README.md, and
(except the meta-package) one typed import package under src/ that the wheel ships."""

from __future__ import annotations

from pathlib import Path
from typing import Any

EXPECTED_DISTS = {
    "waitbus",
    "waitbus-wire",
    "waitbus-store",
    "waitbus-hub",
    "waitbus-sdk",
    "waitbus-cli",
    "waitbus-sources-github",
    "waitbus-sources-alertmanager",
    "waitbus-sources-pytest",
    "waitbus-sources-docker",
    "waitbus-sources-fs",
    "waitbus-mcp",
    "waitbus-bridge-nats",
    "waitbus-web",
}


def test_every_package_dir_has_a_pyproject(packages: Any) -> None:
    root = Path(__file__).resolve().parents[2] / "packages"
    dirs = {p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))}
    assert dirs == {p.dir.name for p in packages}, "a directory under packages/ lacks pyproject.toml"


def test_the_expected_distributions_exist(packages: Any) -> None:
    assert {p.dist for p in packages} == EXPECTED_DISTS


def test_dir_is_named_after_the_distribution(package: Any) -> None:
    assert package.dir.name == package.name


def test_readme(package: Any) -> None:
    readme = package.dir / "README.md"
    assert readme.is_file()
    assert readme.read_text(encoding="utf-8").strip(), "README.md is empty"
    assert package.data["project"].get("readme") == "README.md"


def test_import_package(package: Any) -> None:
    if package.is_meta:
        assert not (package.dir / "src").exists(), "the meta-package has no code"
        assert package.data["tool"]["hatch"]["build"]["targets"]["wheel"].get("bypass-selection") is True
        return
    pkg = package.dir / "src" / package.import_name
    assert (pkg / "__init__.py").is_file()
    assert (pkg / "py.typed").is_file()


def test_src_holds_only_the_import_package(package: Any) -> None:
    if package.is_meta:
        return
    src = package.dir / "src"
    importable = {
        p.name.removesuffix(".py")
        for p in src.iterdir()
        if (p.is_dir() and (p / "__init__.py").exists()) or (p.is_file() and p.suffix == ".py")
    }
    assert importable == {package.import_name}


def test_wheel_target_ships_the_import_package(package: Any) -> None:
    if package.is_meta:
        return
    wheel = package.data["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert wheel.get("packages") == [f"src/{package.import_name}"]

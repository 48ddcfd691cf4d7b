"""Facts about the workspace shared by the repository tests: where it is and what it holds.

Any test in tests/repo that takes a ``package`` argument runs once per distribution under
packages/ (ids are the distribution names); ``packages`` gives them all at once.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES_DIR = REPO / "packages"
META = "waitbus"  # the meta-package: a README, dependencies and the stack's commands, no code
VERSION = tomllib.loads((REPO / "version.toml").read_text(encoding="utf-8"))["version"]


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Package:
    """One distribution under packages/."""

    dir: Path
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.data["project"]["name"])

    @property
    def dist(self) -> str:
        return normalize(self.name)

    @property
    def version(self) -> str:
        """Every distribution's version: version.toml's (tools/hatch_build.py)."""
        return str(VERSION)

    @property
    def requirements(self) -> dict[str, Any]:
        """The hook table tools/hatch_build.py turns into dependencies, `{version}` still in it."""
        return dict(self.data["tool"]["hatch"]["metadata"]["hooks"]["custom"])

    @property
    def is_meta(self) -> bool:
        return self.dist == META

    @property
    def import_name(self) -> str | None:
        """waitbus-sdk -> waitbus; waitbus-x-y -> waitbus_x_y; the meta-package has none."""
        if self.is_meta:
            return None
        return "waitbus" if self.dist == "waitbus-sdk" else self.dist.replace("-", "_")

    @property
    def dependencies(self) -> list[str]:
        return [r.replace("{version}", self.version) for r in self.requirements.get("dependencies", [])]

    @property
    def extras(self) -> dict[str, list[str]]:
        extras = self.requirements.get("optional-dependencies", {})
        return {name: [r.replace("{version}", self.version) for r in reqs] for name, reqs in extras.items()}

    def __repr__(self) -> str:  # shows up in assertion messages
        return f"Package({self.name})"


@cache
def load_packages() -> tuple[Package, ...]:
    paths = sorted(PACKAGES_DIR.glob("*/pyproject.toml"))
    return tuple(Package(p.parent, tomllib.loads(p.read_text(encoding="utf-8"))) for p in paths)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "package" in metafunc.fixturenames:
        pkgs = load_packages()
        metafunc.parametrize("package", pkgs, ids=[p.dir.name for p in pkgs])


@pytest.fixture(scope="session")
def packages() -> tuple[Package, ...]:
    pkgs = load_packages()
    assert pkgs, f"no packages/*/pyproject.toml under {REPO}"
    return pkgs

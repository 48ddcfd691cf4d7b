"""Fixtures shared by the integration tests. Their helper modules live in tests/_support
(imported by name: pytest puts the repository root on sys.path)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests._support import dist


@pytest.fixture(scope="session")
def dist_caches(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The uv and pip caches every install test of this session shares (never the real ~)."""
    return tmp_path_factory.mktemp("dist-caches")


@pytest.fixture(scope="session")
def dist_dir(tmp_path_factory: pytest.TempPathFactory, dist_caches: Path) -> Path:
    """`make dist` of this checkout's HEAD (a clean clone, tagged there), built once per session."""
    root = tmp_path_factory.mktemp("release")
    env = dist.Home(root / "user", dist_caches).env()
    checkout = dist.clone(root / "checkout", env)
    built = dist.make_dist(checkout, root / "dist", env)
    assert built.returncode == 0, f"make dist failed:\n{built.stdout}\n{built.stderr}"
    return root / "dist"

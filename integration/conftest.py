"""Shared helper modules for every integration test, registered once under importable
names: pytest runs with --import-mode=importlib, so a test file cannot import another
file by name. Listed so that a helper comes after the helpers it imports."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from tests._support import dist

_HERE = Path(__file__).resolve().parent
_TESTS = _HERE.parent / "tests"
_HELPERS = {
    # idle loopback connections held by another user, `nobody` (listener limits)
    "waitbus_local_attacker": _HERE / "test_hub_metrics_port.py",
}

for _name, _path in _HELPERS.items():
    if _name not in sys.modules:
        _spec = importlib.util.spec_from_file_location(_name, _path)
        assert _spec is not None and _spec.loader is not None
        sys.modules[_name] = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(sys.modules[_name])


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

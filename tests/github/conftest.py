"""Fixtures for the GitHub source's fast tests (helpers live in support.py)."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest


def _support() -> ModuleType:
    name = "waitbus_github_test_support"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("support.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture
def gh() -> ModuleType:
    """The shared helpers (signing, fixtures, the API stand-in, the stored events)."""
    return _support()


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[object]:
    """The loopback GitHub API stand-in, pointed at by WAITBUS_GITHUB_API."""
    api = _support().StandInAPI(tmp_path / "standin")
    try:
        yield api
    finally:
        api.stop()

"""Fixtures for the GitHub source's fast tests (helpers live in tests/_support/github.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests._support import github


@pytest.fixture
def gh() -> ModuleType:
    """The shared helpers (signing, fixtures, the API stand-in, the stored events)."""
    return github


@pytest.fixture
def standin(tmp_path: Path) -> Iterator[object]:
    """The loopback GitHub API stand-in, pointed at by WAITBUS_GITHUB_API."""
    api = github.StandInAPI(tmp_path / "standin")
    try:
        yield api
    finally:
        api.stop()

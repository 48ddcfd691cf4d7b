"""Fixtures and shared helpers for the fault tests.

The real-podman fixtures of the docker source tests (tests/_support/docker.py) are
reused here, not copied.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests._support.docker import containers, podman, start_runner  # noqa: F401  (fixtures)


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """mount(path, size="2m", readonly=False): a real small filesystem, for disk-full and
    read-only faults. Needs root (CI runs as root); skips, saying so, where mount fails."""
    mounted: list[Path] = []

    def mount(path: Path, size: str = "2m", *, readonly: bool = False) -> Path:
        if os.geteuid() != 0:
            pytest.skip("mounting a tmpfs needs root")
        path.mkdir(parents=True, exist_ok=True)
        opts = f"size={size},mode=0700" + (",ro" if readonly else "")
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)

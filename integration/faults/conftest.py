"""Fixtures and shared helpers for the fault tests.

pytest runs with --import-mode=importlib, so test files cannot import siblings by name:
the helper modules are put in sys.modules here (loaded before any test module), and
the real-podman fixtures of the docker source tests are reused, not copied.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

_HERE = Path(__file__).resolve().parent


def _register(name: str, path: Path) -> None:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        sys.modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sys.modules[name])


_register("waitbus_fault_helpers", _HERE / "_faults.py")
_register("waitbus_github_test_support", _HERE.parents[1] / "tests" / "github" / "support.py")
_register("waitbus_docker_test_support", _HERE.parent / "sources" / "test_src_docker.py")
_register("waitbus_bus_delivery_tests", _HERE.parent / "test_bus_delivery.py")
_register("waitbus_fs_source_tests", _HERE.parent / "sources" / "test_src_fs.py")

from waitbus_docker_test_support import containers, podman, start_runner  # noqa: E402,F401  (fixtures)


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

"""`make test` sets up the real peers before the tests (issue 14 item 9), the no-root
ones go into a git-ignored folder, and the run ends with one line of what skipped."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_test_installs_the_peers_before_running_the_tests():
    plan = subprocess.run(["make", "-n", "test"], cwd=REPO, capture_output=True, text=True, timeout=60).stdout
    assert "bash tools/peers/install.sh" in plan
    assert plan.index("tools/peers/install.sh") < plan.index("pytest tests integration")


def test_no_root_peers_go_into_a_git_ignored_folder():
    assert ".peers/" in (REPO / ".gitignore").read_text().splitlines()
    assert ".peers/github" in (REPO / "tools" / "peers" / "github.sh").read_text()


def test_the_last_line_lists_what_skipped_and_why(tmp_path):
    (tmp_path / "conftest.py").write_text((REPO / "conftest.py").read_text())
    (tmp_path / "test_x.py").write_text(
        "import pytest\n"
        "@pytest.mark.skip(reason='podman is not installed')\ndef test_a(): pass\n"
        "@pytest.mark.skip(reason='podman is not installed')\ndef test_b(): pass\n"
        "def test_c(): pytest.skip('no jq')\n"
        "def test_d(): pass\n"
    )
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},  # the copied conftest imports tests._support
    )  # fmt: skip
    assert out.stdout.rstrip().splitlines()[-1] == ("waitbus: 3 skipped: 2 x podman is not installed; 1 x no jq"), (
        out.stdout
    )

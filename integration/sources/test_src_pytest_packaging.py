"""A CI image installs one source package and gets only the SDK side.

Wheels of waitbus-wire, waitbus-store, waitbus-sdk and waitbus-sources-pytest are built
from this checkout (``python -m build --wheel --no-isolation``, as tests/repo/test_packaging.py
does); third-party requirements come from ``pip download`` (or $WAITBUS_WHEELHOUSE for
offline runs). A fresh venv installs waitbus-sources-pytest with ``--no-index`` from those
two directories, so nothing of ours is ever fetched by name from an index. Then a tiny real
pytest session in that venv must land its event in the log, and under pytest-xdist (also
from PyPI, in a second venv) the controller alone must publish it.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests._support.pytest_source import FORBIDDEN, install_env, run_clean, tiny_project

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
OURS = ("waitbus-wire", "waitbus-store", "waitbus-sdk", "waitbus-sources-pytest")
_WHEEL = re.compile(r"(?P<name>[^-]+)-(?P<version>[^-]+)-.+\.whl")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def build_wheels(out: Path, dists: tuple[str, ...]) -> Path:
    """Wheels of `dists` (our packages) built concurrently into `out`."""
    procs = {
        dist: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "build",
                "--wheel",
                "--no-isolation",
                "--outdir",
                str(out),
                str(REPO / "packages" / dist),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=install_env(),
        )
        for dist in dists
    }
    failures = {}
    for dist, proc in procs.items():
        try:
            output, _ = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        if proc.returncode != 0:
            failures[dist] = output[-3000:]
    assert not failures, "wheel builds failed:\n" + "\n".join(f"== {d}\n{o}" for d, o in failures.items())
    built = {normalize(m["name"]) for w in out.glob("*.whl") if (m := _WHEEL.fullmatch(w.name))}
    assert built == set(dists)
    return out


def third_party_of(dists: tuple[str, ...]) -> list[str]:
    """The third-party requirements our `dists` declare, each once."""
    wanted: list[str] = []
    for dist in dists:
        data = tomllib.loads((REPO / "packages" / dist / "pyproject.toml").read_text())
        requirements = data["tool"]["hatch"]["metadata"]["hooks"]["custom"]["dependencies"]  # tools/hatch_build.py
        wanted += [r for r in requirements if not normalize(r).startswith("waitbus")]
    return list(dict.fromkeys(wanted))


@pytest.fixture(scope="module")
def our_wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_wheels(tmp_path_factory.mktemp("our-wheels"), OURS)


def _download(dest: Path, requirements: list[str]) -> Path:
    offline = os.environ.get("WAITBUS_WHEELHOUSE")
    if offline:
        return Path(offline)
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(dest), *requirements]
    try:
        result = run_clean(cmd, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip download {' '.join(requirements)} timed out: no index reachable? (set WAITBUS_WHEELHOUSE)")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        pytest.skip(f"cannot pip download {' '.join(requirements)} (set WAITBUS_WHEELHOUSE for offline runs):\n{tail}")
    return dest


@pytest.fixture(scope="module")
def third_party(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The third-party requirements of our four distributions, and their own, as wheels."""
    return _download(tmp_path_factory.mktemp("third-party"), third_party_of(OURS))


def _venv(where: Path, find_links: list[Path], *requirements: str) -> Path:
    made = run_clean([sys.executable, "-m", "venv", str(where)], timeout=120)
    assert made.returncode == 0, made.stderr
    python = where / "bin" / "python"
    links = [arg for d in find_links for arg in ("--find-links", str(d))]
    install = run_clean([str(python), "-m", "pip", "install", "--no-index", *links, *requirements], timeout=300)
    assert install.returncode == 0, install.stdout + install.stderr
    return python


def _installed(python: Path) -> set[str]:
    listed = run_clean([str(python), "-m", "pip", "list", "--format=json"], timeout=60)
    assert listed.returncode == 0, listed.stderr
    return {normalize(p["name"]) for p in json.loads(listed.stdout)} - {"pip", "setuptools", "wheel"}


def _events(state: Path) -> list[tuple[str, dict[str, Any]]]:
    conn = sqlite3.connect(f"file:{state / 'events.db'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT source, event_type, fields FROM events ORDER BY seq").fetchall()
    finally:
        conn.close()
    assert all(r[0] == "pytest" for r in rows), rows
    return [(r[1], json.loads(r[2])) for r in rows]


def _sessions(state: Path) -> list[dict[str, Any]]:
    return [fields for kind, fields in _events(state) if kind == "pytest_session"]


def test_one_source_package_brings_only_the_sdk_side(our_wheels: Path, third_party: Path, tmp_path: Path) -> None:
    python = _venv(tmp_path / "venv", [our_wheels, third_party], "waitbus-sources-pytest")
    installed = _installed(python)
    assert not installed & FORBIDDEN, sorted(installed & FORBIDDEN)
    assert {d for d in installed if d.startswith("waitbus")} == set(OURS)
    if not os.environ.get("WAITBUS_WHEELHOUSE"):  # with a download dir we know the exact closure
        downloaded = {normalize(m["name"]) for w in third_party.glob("*.whl") if (m := _WHEEL.fullmatch(w.name))}
        assert installed == set(OURS) | downloaded
    check = run_clean([str(python), "-m", "pip", "check"], timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    door = run_clean(
        [str(python), "-I", "-c", "from waitbus._sources import get_source; print(get_source('pytest').event_types)"],
        timeout=60,
    )
    assert door.returncode == 0 and "pytest_session" in door.stdout, door.stderr

    state = tmp_path / "state"
    proj = tiny_project(tmp_path)
    env = {**install_env(), "WAITBUS_STATE_DIR": str(state)}
    ran = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-W", "error"],
        cwd=proj,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "waitbus" not in ran.stdout + ran.stderr
    (session,) = _sessions(state)
    assert (session["outcome"], session["passed"], session["failed"]) == ("failed", 3, 1)
    assert session["rootdir"] == str(proj)


def test_under_xdist_only_the_controller_publishes(our_wheels: Path, third_party: Path, tmp_path: Path) -> None:
    xdist = _download(tmp_path / "xdist-wheels", ["pytest-xdist"])
    python = _venv(tmp_path / "venv", [our_wheels, third_party, xdist], "waitbus-sources-pytest", "pytest-xdist")
    state = tmp_path / "state"
    proj = tiny_project(tmp_path)
    env = {**install_env(), "WAITBUS_STATE_DIR": str(state)}
    ran = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-n", "2", "--waitbus-failures"],
        cwd=proj, env=env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "waitbus" not in ran.stdout + ran.stderr
    # Two workers and a controller ran; one session event, counted from the workers' reports.
    (session,) = _sessions(state)
    assert session["outcome"] == "failed"
    assert (session["passed"], session["failed"], session["collected"]) == (3, 1, 4)
    failures = [fields for kind, fields in _events(state) if kind == "pytest_failure"]
    assert [f["nodeid"] for f in failures] == ["test_tiny.py::test_x"]
    assert session["failure_events"] == 1

"""The version machinery and the uv workspace, on clean clones of this checkout's HEAD:
`hatch version X` at the root moves every distribution and every exact pin between them
(read back from freshly built wheels and sdists), and `uv sync` at the root gives a dev
environment with every package editable."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from tests._support import dist as wd

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

NEW = "9.8.7rc1"


def _requires(metadata: str) -> list[str]:
    return [line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]


def test_hatch_version_moves_every_distribution_and_pin(dist_caches: Path, tmp_path: Path) -> None:
    env = wd.Home(tmp_path / "user", dist_caches).env()
    checkout = wd.clone(tmp_path / "checkout", env, tag=False)
    bumped = wd.run(["hatch", "version", NEW], env, timeout=300, cwd=checkout)
    assert bumped.returncode == 0, bumped.stdout + bumped.stderr
    assert f"New: {NEW}" in bumped.stdout + bumped.stderr
    changed = wd.run(["git", "-C", str(checkout), "diff", "--name-only"], env).stdout.split()
    assert changed == ["version.toml"], "the version must live in one file"
    shown = wd.run(["hatch", "version"], env, timeout=120, cwd=checkout)
    assert shown.stdout.strip().splitlines()[-1] == NEW

    out = tmp_path / "built"
    built = wd.run(["uv", "build", "--all-packages", "--quiet", "--out-dir", str(out)], env, timeout=600, cwd=checkout)
    assert built.returncode == 0, built.stdout + built.stderr
    ours = set(wd.distributions())
    wheels = wd.wheels(out)
    assert set(wheels) == ours
    for name, wheel in wheels.items():
        with zipfile.ZipFile(wheel) as zf:
            (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
            metadata = zf.read(meta).decode()
        assert f"\nVersion: {NEW}\n" in metadata, name
        internal = [r for r in _requires(metadata) if wd.normalize(r.split("==")[0].split("[")[0]) in ours]
        assert all(f"=={NEW}" in r for r in internal), (name, internal)
        if name == "waitbus":  # the meta-package pins every other distribution
            assert {wd.normalize(r.split("==")[0]) for r in internal} == ours - {"waitbus"}
    for sdist in out.glob("*.tar.gz"):  # an sdist carries the moved version in its PKG-INFO
        with tarfile.open(sdist) as tf:
            member = tf.extractfile(f"{sdist.name.removesuffix('.tar.gz')}/PKG-INFO")
            assert member is not None and f"\nVersion: {NEW}\n" in member.read().decode(), sdist.name


def test_uv_sync_gives_an_editable_dev_environment(dist_caches: Path, tmp_path: Path) -> None:
    env = wd.Home(tmp_path / "user", dist_caches).env()
    checkout = wd.clone(tmp_path / "checkout", env, tag=False)
    synced = wd.run(["uv", "sync"], env, timeout=600, cwd=checkout)
    assert synced.returncode == 0, synced.stdout + synced.stderr
    python = checkout / ".venv" / "bin" / "python"
    probe = (
        "import importlib.metadata as md, json\n"
        "out = {}\n"
        "for d in md.distributions():\n"
        "    raw = d.read_text('direct_url.json')\n"
        "    out[d.metadata['Name']] = json.loads(raw) if raw else None\n"
        "print(json.dumps(out))\n"
    )
    ran = wd.run([str(python), "-I", "-c", probe], env)
    assert ran.returncode == 0, ran.stderr
    found = {wd.normalize(name): url for name, url in json.loads(ran.stdout).items()}
    for name, directory in wd.distributions().items():
        url = found.get(name)
        assert url is not None, f"{name} is not installed by uv sync"
        assert url.get("dir_info", {}).get("editable") is True, f"{name} is not editable: {url}"
        assert url["url"] == (checkout / "packages" / directory.name).as_uri()
    for tool in ("pytest", "ruff", "mypy", "uv", "pipx", "hatch", "cyclonedx-bom", "duckdb"):
        assert tool in found, f"{tool} (a dev tool or the CLI's analyze extra) is missing"
    cli = wd.run([str(checkout / ".venv" / "bin" / "waitbus"), "--help"], env, timeout=60)
    assert cli.returncode == 0 and "waitbus" in cli.stdout, cli.stderr


def test_make_demo_with_only_python_and_make(dist_caches: Path, tmp_path: Path) -> None:
    """The README's first command on a machine without uv: `make venv` takes the pip path."""
    home = wd.Home(tmp_path / "user", dist_caches)
    bare = tmp_path / "bare-bin"  # python3 and nothing else of ours: no uv, no pipx, no hatch
    bare.mkdir()
    (bare / "python3").symlink_to(wd.BASE_PYTHON)
    env = {**home.env(), "PATH": f"{bare}:/usr/bin:/bin"}
    assert wd.run("command -v uv", env).returncode != 0, "uv is on the bare PATH"
    checkout = wd.clone(tmp_path / "checkout", env, tag=False)
    demo = wd.run(["make", "demo"], env, timeout=840, cwd=checkout)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert "-m pip install" in demo.stdout and "uv sync" not in demo.stdout
    assert "latency" in demo.stdout.lower()
    assert (checkout / ".venv" / "bin" / "uv").exists(), "make venv installs uv as a test tool"
    assert (checkout / ".venv" / "bin" / "pipx").exists(), "make venv installs pipx as a test tool"

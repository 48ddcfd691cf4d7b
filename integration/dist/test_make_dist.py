"""`make dist` (tools/dist.py): every distribution's wheel and sdist with LICENSE inside,
SHA256SUMS, a CycloneDX SBOM of the meta-package's closure, byte-identical on a rebuild
from the same commit, and refused on a dirty tree or an untagged version."""

from __future__ import annotations

import json
import tarfile
import zipfile
from pathlib import Path

import pytest
from tests._support import dist as wd

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def _artifact_names() -> set[str]:
    """What a release holds, derived from packages/ (a new package needs no edit here)."""
    names = {d.replace("-", "_") for d in wd.distributions()}
    return {f"{n}-{wd.VERSION}{suffix}" for n in names for suffix in ("-py3-none-any.whl", ".tar.gz")}


def test_every_distribution_has_a_wheel_and_an_sdist(dist_dir: Path) -> None:
    files = {p.name for p in dist_dir.iterdir()}
    assert files == _artifact_names() | {"SHA256SUMS", f"waitbus-{wd.VERSION}.cdx.json"}


def test_license_is_inside_every_artifact(dist_dir: Path) -> None:
    license_text = (wd.REPO / "LICENSE").read_bytes()
    assert b"The waitbus authors" in license_text
    for path in sorted(dist_dir.iterdir()):
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as zf:
                (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/licenses/LICENSE")]
                assert zf.read(name) == license_text, path.name
                (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
                assert "License-File: LICENSE" in zf.read(meta).decode(), path.name
        elif path.name.endswith(".tar.gz"):
            with tarfile.open(path) as tf:
                member = tf.getmember(f"{path.name.removesuffix('.tar.gz')}/LICENSE")
                assert member.isfile(), f"{path.name}: LICENSE must be a file, not a link"
                extracted = tf.extractfile(member)
                assert extracted is not None and extracted.read() == license_text, path.name


def test_sha256sums_cover_every_other_file(dist_dir: Path) -> None:
    lines = (dist_dir / "SHA256SUMS").read_text().splitlines()
    sums = {name: digest for digest, name in (line.split("  ", 1) for line in lines)}
    assert set(sums) == {p.name for p in dist_dir.iterdir()} - {"SHA256SUMS"}
    for name, digest in sums.items():
        assert wd.sha256(dist_dir / name) == digest, name


def test_the_sbom_lists_the_meta_package_closure(dist_dir: Path) -> None:
    bom = json.loads((dist_dir / f"waitbus-{wd.VERSION}.cdx.json").read_text())
    assert bom["bomFormat"] == "CycloneDX"
    components = {wd.normalize(c["name"]): c for c in bom["components"]}
    ours = {name for name in components if name.startswith("waitbus")}
    meta_wheel = wd.wheels(dist_dir)["waitbus"]
    with zipfile.ZipFile(meta_wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        requires = [line.split(": ", 1)[1] for line in zf.read(meta).decode().splitlines() if line.startswith("Requires-Dist")]
    pinned = {wd.normalize(r.split("==", 1)[0]) for r in requires if "extra ==" not in r}
    assert ours == pinned | {"waitbus"}
    assert all(components[name]["version"] == wd.VERSION for name in ours)
    for third_party in ("msgspec", "platformdirs", "mcp", "typer"):
        assert third_party in components, f"{third_party} is in the closure but not in the SBOM"
    assert not any("file://" in json.dumps(c) for c in bom["components"]), "the SBOM names a build machine's path"


def test_two_builds_of_one_commit_are_byte_identical(dist_dir: Path, dist_caches: Path, tmp_path: Path) -> None:
    env = wd.Home(tmp_path / "user", dist_caches).env()
    # The same commit (HEAD may have moved since the session's build), at another path.
    checkout = wd.clone(tmp_path / "elsewhere" / "checkout", env, rev=wd.built_from(dist_dir, env))
    again = wd.make_dist(checkout, tmp_path / "dist", env)
    assert again.returncode == 0, again.stderr
    first = {p.name: p.read_bytes() for p in dist_dir.iterdir()}
    second = {p.name: p.read_bytes() for p in (tmp_path / "dist").iterdir()}
    assert set(first) == set(second)
    differ = sorted(name for name in first if first[name] != second[name])
    assert not differ, f"not reproducible: {differ}"


def test_a_dirty_tree_is_refused(dist_caches: Path, tmp_path: Path) -> None:
    env = wd.Home(tmp_path / "user", dist_caches).env()
    checkout = wd.clone(tmp_path / "checkout", env)
    readme = checkout / "packages" / "waitbus-sdk" / "README.md"
    readme.write_text(readme.read_text() + "\nan uncommitted line\n")
    refused = wd.make_dist(checkout, tmp_path / "dist", env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "not a release: the work tree has 1 uncommitted change(s)" in refused.stderr
    assert "packages/waitbus-sdk/README.md" in refused.stderr
    assert not (tmp_path / "dist").exists()


def test_an_untagged_version_is_refused(dist_caches: Path, tmp_path: Path) -> None:
    env = wd.Home(tmp_path / "user", dist_caches).env()
    checkout = wd.clone(tmp_path / "checkout", env, tag=False)
    wd.run(["git", "-C", str(checkout), "tag", "-d", f"v{wd.VERSION}"], env)  # in case HEAD is a release
    refused = wd.make_dist(checkout, tmp_path / "dist", env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert f"not a release: version {wd.VERSION} (version.toml) is not tagged at HEAD" in refused.stderr
    assert f"git tag v{wd.VERSION}" in refused.stderr
    assert not (tmp_path / "dist").exists()

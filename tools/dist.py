"""`make dist`: every distribution's wheel and sdist, SHA256SUMS and a CycloneDX SBOM.

    python tools/dist.py [--out dist]

Builds only a release: a clean work tree whose HEAD carries the tag ``v<version>``
(version.toml). Every packages/* distribution is built by ``uv build --all-packages``
(each wheel from its own sdist, so the sdists are known to build alone), with
SOURCE_DATE_EPOCH set to the commit's time: two runs from one commit give the same bytes.
The SBOM lists the meta-package's closure as installed into a scratch venv from the new
wheels, third-party versions held to uv.lock. docs/release.md says what happens next.

Exit status: 0 built, 1 the build or a check of its output failed, 2 not a release
(dirty tree, untagged version) or a tool is missing.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
META = "waitbus"
SUMS = "SHA256SUMS"


class NotARelease(Exception):
    """The checkout is not something a release is built from (exit 2)."""


class BuildFailed(Exception):
    """A build step or a check of its output failed (exit 1)."""


def git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True).stdout.strip()


def version() -> str:
    return str(tomllib.loads((ROOT / "version.toml").read_text(encoding="utf-8"))["version"])


def distributions() -> list[str]:
    """The distribution names under packages/, as their sdists and wheels spell them."""
    names = [tomllib.loads(p.read_text())["project"]["name"] for p in sorted(ROOT.glob("packages/*/pyproject.toml"))]
    return [name.replace("-", "_") for name in names]


def check_release(release: str) -> None:
    dirty = git("status", "--porcelain", "--untracked-files=normal")
    if dirty:
        lines = dirty.splitlines()
        shown = "\n  ".join(lines[:10]) + ("\n  ..." if len(lines) > 10 else "")
        raise NotARelease(
            f"the work tree has {len(lines)} uncommitted change(s); a release is built from a commit "
            f"(commit or stash them):\n  {shown}"
        )
    tag = f"v{release}"
    if tag not in git("tag", "--points-at", "HEAD").split():
        head = git("rev-parse", "--short", "HEAD")
        raise NotARelease(
            f"version {release} (version.toml) is not tagged at HEAD ({head}): a release is built from its tag. "
            f"Tag it with `git tag {tag}`, or move the version with `hatch version X` and commit first"
        )


def uv() -> str:
    beside = Path(sys.executable).with_name("uv")
    found = str(beside) if beside.is_file() else shutil.which("uv")
    if found is None:
        raise NotARelease("uv is needed to build (make venv installs it into .venv)")
    return found


def run(cmd: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-20:])
        raise BuildFailed(f"{what} failed (exit {result.returncode}):\n{tail}")


def check_artifacts(out: Path, release: str) -> list[Path]:
    """Every distribution's wheel and sdist, each carrying LICENSE; nothing else."""
    artifacts = sorted(out.iterdir())
    expected = {f"{d}-{release}{s}" for d in distributions() for s in ("-py3-none-any.whl", ".tar.gz")}
    names = {p.name for p in artifacts}
    if names != expected:
        raise BuildFailed(f"built {sorted(names - expected)} unexpectedly and not {sorted(expected - names)}")
    for path in artifacts:
        if path.suffix == ".whl":
            with zipfile.ZipFile(path) as zf:
                has_license = any(n.endswith(".dist-info/licenses/LICENSE") for n in zf.namelist())
        else:
            with tarfile.open(path) as tf:
                has_license = any(m.isfile() and m.name.count("/") == 1 and m.name.endswith("/LICENSE") for m in tf)
        if not has_license:
            raise BuildFailed(f"{path.name} carries no LICENSE")
    return artifacts


def sbom(out: Path, release: str, env: dict[str, str], tool: str) -> Path:
    """A CycloneDX SBOM of what installing the meta-package gives, third parties held to uv.lock."""
    target = out / f"{META}-{release}.cdx.json"
    with tempfile.TemporaryDirectory(prefix="waitbus-sbom-") as scratch:
        venv = Path(scratch) / "venv"
        constraints = Path(scratch) / "constraints.txt"
        exported = subprocess.run(
            [tool, "export", "--frozen", "--no-hashes", "--no-emit-workspace", "--all-extras", "--no-header"],
            capture_output=True,
            text=True,
            env=env,
            cwd=ROOT,
            check=False,
        )
        constraints.write_text(exported.stdout if exported.returncode == 0 else "")
        run([tool, "venv", "-q", "--python", sys.executable, str(venv)], env, "creating the SBOM venv")
        meta_wheel = out / f"{META}-{release}-py3-none-any.whl"
        run(
            [tool, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "--find-links", str(out),
             "--constraint", str(constraints), str(meta_wheel)],
            env,
            "installing the meta-package for the SBOM",
        )  # fmt: skip
        # The meta-package came from a file: its direct_url.json names this scratch path.
        for direct_url in venv.glob(f"lib/python*/site-packages/{META}-{release}.dist-info/direct_url.json"):
            direct_url.unlink()
        cyclonedx = Path(sys.executable).with_name("cyclonedx-py")
        run(
            [str(cyclonedx), "environment", "--output-reproducible", "--of", "JSON", "-o", str(target),
             str(venv / "bin" / "python")],
            env,
            "cyclonedx-py",
        )  # fmt: skip
    return target


def write_sums(out: Path, files: list[Path]) -> Path:
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sorted(files)]
    target = out / SUMS
    target.write_text("".join(lines))
    return target


def build(out: Path) -> list[Path]:
    release = version()
    check_release(release)
    tool = uv()
    env = dict(os.environ, SOURCE_DATE_EPOCH=git("log", "-1", "--format=%ct"), UV_PYTHON_DOWNLOADS="never")
    env.pop("VIRTUAL_ENV", None)
    if out.exists():
        shutil.rmtree(out)
    with tempfile.TemporaryDirectory(prefix="waitbus-dist-") as scratch:
        staged = Path(scratch) / "dist"
        run([tool, "build", "--all-packages", "--quiet", "--out-dir", str(staged)], env, "uv build --all-packages")
        for junk in staged.glob(".gitignore"):
            junk.unlink()
        check_artifacts(staged, release)
        shutil.copytree(staged, out)
    artifacts = sorted(out.iterdir())
    bom = sbom(out, release, env, tool)
    sums = write_sums(out, [*artifacts, bom])
    return [*artifacts, bom, sums]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="the output directory (replaced)")
    args = parser.parse_args(argv)
    try:
        written = build(args.out.resolve())
    except NotARelease as exc:
        print(f"make dist: not a release: {exc}", file=sys.stderr)
        return 2
    except (BuildFailed, subprocess.CalledProcessError) as exc:
        print(f"make dist: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())

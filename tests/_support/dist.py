"""`make dist` output and fresh environments for the install tests (integration/dist, the
bridge's CI-image test).

The release is built once per test session, by tools/dist.py in a clean clone of this
checkout's HEAD, tagged v<version> there (a release is built only from a tagged, clean
tree). Every install runs with a throw-away HOME, XDG dirs, uv/pip/pipx/hatch homes and
caches, a PATH of the environment's own bin dirs plus /usr/bin and /bin, and the base
Python of this venv: nothing reads or writes the real ~ or this .venv. The session shares
one uv and one pip cache, so each third-party wheel is downloaded once per session.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # this venv's tools: uv, pipx, hatch, cyclonedx-py
BASE_PYTHON = getattr(sys, "_base_executable", sys.executable)
VERSION = str(tomllib.loads((REPO / "version.toml").read_text())["version"])
_WHEEL = re.compile(r"(?P<name>[^-]+)-(?P<version>[^-]+)-py3-none-any\.whl")


# The machine's way to the package index (proxies, CA bundles, index settings) is the one
# thing a throw-away user inherits.
_NETWORK = re.compile(
    r"(?i).*_proxy|.*_CA_BUNDLE|SSL_CERT_(FILE|DIR)|PIP_(CERT|DEFAULT_TIMEOUT|INDEX_URL|EXTRA_INDEX_URL)|UV_(INDEX_URL|DEFAULT_INDEX|INDEX|NATIVE_TLS|SYSTEM_CERTS|HTTP_TIMEOUT)"
)


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def distributions() -> dict[str, Path]:
    """Every distribution under packages/ -> its directory."""
    return {
        normalize(tomllib.loads(p.read_text())["project"]["name"]): p.parent
        for p in sorted(REPO.glob("packages/*/pyproject.toml"))
    }


@dataclass(frozen=True)
class Home:
    """A throw-away user: HOME, tool homes and a PATH; `env()` for its processes."""

    root: Path
    caches: Path  # shared by the session: uv and pip caches

    @property
    def bin(self) -> Path:
        return self.root / "bin"  # uv tool and pipx put their commands here

    @property
    def tools(self) -> Path:
        return self.root / "tools-on-path"  # uv, uvx and pipx themselves

    def env(self, *path_first: Path, **extra: str) -> dict[str, str]:
        for d in (self.root / "home", self.bin, self.tools, self.root / "state", self.root / "run"):
            d.mkdir(parents=True, exist_ok=True)
        for tool in ("uv", "uvx", "pipx", "hatch"):
            link = self.tools / tool
            if not link.exists() and (BIN / tool).exists():
                link.symlink_to(BIN / tool)
        # The Python uv finds first. (Never UV_PYTHON: it would beat VIRTUAL_ENV in the tools
        # that run `uv pip install` inside a venv, hatch's build env for one, and install
        # into the base interpreter.)
        if not (self.tools / "python3").exists():
            (self.tools / "python3").symlink_to(BASE_PYTHON)
        home = self.root / "home"
        env = {k: v for k, v in os.environ.items() if _NETWORK.fullmatch(k)}
        env |= {
            "HOME": str(home),
            "LANG": "C.UTF-8",
            "PATH": os.pathsep.join([*map(str, path_first), str(self.bin), str(self.tools), "/usr/bin", "/bin"]),
            "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "UV_CACHE_DIR": str(self.caches / "uv"),
            "UV_TOOL_DIR": str(self.root / "uv-tools"),
            "UV_TOOL_BIN_DIR": str(self.bin),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            "PIPX_HOME": str(self.root / "pipx"),
            "PIPX_BIN_DIR": str(self.bin),
            "PIPX_MAN_DIR": str(self.root / "man"),
            "PIPX_DEFAULT_PYTHON": BASE_PYTHON,
            "PIP_CACHE_DIR": str(self.caches / "pip"),
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
            "HATCH_DATA_DIR": str(self.root / "hatch-data"),
            "HATCH_CACHE_DIR": str(self.caches / "hatch"),
            "WAITBUS_STATE_DIR": str(self.root / "state"),
            "WAITBUS_RUNTIME_DIR": str(self.root / "run"),
            "WAITBUS_NO_AUTOSTART": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        env.update(extra)
        return env


def run(
    cmd: list[str] | str, env: dict[str, str], timeout: float = 300, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """A command (a string runs through bash, as a user would type it)."""
    argv = ["bash", "-c", cmd] if isinstance(cmd, str) else cmd
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout, check=False)


def clone(dest: Path, env: dict[str, str], tag: bool = True, rev: str | None = None) -> Path:
    """A clean clone of this checkout's HEAD (or of commit `rev`), tagged v<version> unless
    `tag` is False."""
    done = run(["git", "clone", "-q", "--no-hardlinks", str(REPO), str(dest)], env, timeout=120)
    assert done.returncode == 0, done.stderr
    if rev is not None:
        moved = run(["git", "-C", str(dest), "checkout", "-q", rev], env, timeout=60)
        assert moved.returncode == 0, moved.stderr
    if tag:
        tagged = run(["git", "-C", str(dest), "tag", "-f", f"v{VERSION}"], env, timeout=30)
        assert tagged.returncode == 0, tagged.stderr
    return dest


def built_from(dist: Path, env: dict[str, str]) -> str:
    """The commit the session's `dist_dir` was built from (its checkout lies beside it)."""
    head = run(["git", "-C", str(dist.parent / "checkout"), "rev-parse", "HEAD"], env, timeout=30)
    assert head.returncode == 0, head.stderr
    return head.stdout.strip()


def make_dist(checkout: Path, out: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """tools/dist.py (what `make dist` runs) in `checkout`, with this venv's Python and tools."""
    return run([sys.executable, str(checkout / "tools" / "dist.py"), "--out", str(out)], env, timeout=600, cwd=checkout)


def wheels(dist: Path) -> dict[str, Path]:
    """normalised name -> wheel, for every wheel in `dist`."""
    return {normalize(m["name"]): w for w in dist.glob("*.whl") if (m := _WHEEL.fullmatch(w.name))}


def new_venv(where: Path, env: dict[str, str]) -> Path:
    made = run([BASE_PYTHON, "-m", "venv", str(where)], env, timeout=120)
    assert made.returncode == 0, made.stderr
    return where / "bin"


_PROBE = """
import base64, hashlib, importlib.metadata as md, json, re, sys
out = {}
for d in md.distributions():
    name = re.sub(r"[-_.]+", "-", d.metadata["Name"]).lower()
    files = {}
    for f in d.files or []:
        p = f.locate()
        if p.is_file() and f.hash is not None:
            digest = base64.urlsafe_b64encode(hashlib.sha256(p.read_bytes()).digest()).rstrip(b"=").decode()
            files[str(f).replace("\\\\", "/")] = digest
    out[name] = {"version": d.version, "files": files}
json.dump(out, sys.stdout)
"""


def installed(python: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Every distribution in `python`'s environment: version, {RECORD path: sha256 of the file}."""
    probe = run([str(python), "-I", "-c", _PROBE], env, timeout=60)
    assert probe.returncode == 0, probe.stderr
    found: dict[str, dict[str, Any]] = json.loads(probe.stdout)
    for seeded in ("pip", "setuptools"):  # what `python -m venv` puts in every venv
        found.pop(seeded, None)
    return found


def _record(wheel: Path) -> dict[str, str]:
    with zipfile.ZipFile(wheel) as zf:
        (record,) = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
        rows = zf.read(record).decode().splitlines()
    out = {}
    for row in rows:
        path, digest, _ = row.rsplit(",", 2)
        if digest.startswith("sha256="):
            out[path] = digest.removeprefix("sha256=")
    return out


def assert_ours(found: dict[str, dict[str, Any]], dist: Path) -> set[str]:
    """Every installed `waitbus*` distribution is one of the wheels in `dist`, file for file
    (the sha256 of each file its RECORD lists); returns their names."""
    built = wheels(dist)
    ours = {name for name in found if name.startswith("waitbus")}
    for name in ours:
        assert name in built, f"{name} {found[name]['version']} is installed but is not one of ours in {dist}"
        assert found[name]["version"] == VERSION, f"{name} {found[name]['version']} is not ours ({VERSION})"
        record = _record(built[name])
        files = found[name]["files"]
        mismatched = sorted(p for p, digest in record.items() if files.get(p) != digest)
        assert not mismatched, f"{name}: these files differ from {built[name].name}: {mismatched[:5]}"
    return ours


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fresh_dist_link(where: Path, dist: Path) -> Path:
    """A working directory with `dist` in it (a copy of the release), as a user has."""
    where.mkdir(parents=True, exist_ok=True)
    target = where / "dist"
    if not target.exists():
        shutil.copytree(dist, target)
    return where

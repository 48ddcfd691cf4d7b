"""Every distribution builds a wheel, the wheels say what the pyproject files say, and the SDK
installs into a clean venv with exactly its five distributions and nothing heavy on import.

Wheels are built with ``python -m build --wheel --no-isolation`` (hatchling from this venv, no
network). The fresh venv installs with ``--no-index``: our wheels from the build directory, and
msgspec/platformdirs from a directory ``pip download`` fills first (or from $WAITBUS_WHEELHOUSE,
for offline runs). Nothing of ours is ever fetched by name from an index.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import HeaderParser
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
SDK_CLOSURE = {"waitbus-sdk", "waitbus-wire", "waitbus-store", "msgspec", "platformdirs"}
FORBIDDEN_ON_IMPORT = ("pydantic", "typer", "prometheus_client", "waitbus_hub")
_WHEEL_NAME = re.compile(r"(?P<name>[^-]+)-(?P<version>[^-]+)-.+\.whl")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _env() -> dict[str, str]:
    """The environment for child Pythons: no leaking of this venv or of PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"}}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", PYTHONDONTWRITEBYTECODE="1")
    return env


def _run(cmd: list[str], timeout: float, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=_env(), check=False, **kwargs)


def _pyprojects() -> dict[str, dict[str, Any]]:
    return {
        normalize(data["project"]["name"]): data
        for data in (tomllib.loads(p.read_text()) for p in sorted((REPO / "packages").glob("*/pyproject.toml")))
    }


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """dist -> its freshly built wheel; all packages build concurrently."""
    missing = [m for m in ("build", "hatchling") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed in {sys.prefix}: install the 'test' dependency group")
    out = tmp_path_factory.mktemp("wheels")
    dirs = sorted(p.parent for p in (REPO / "packages").glob("*/pyproject.toml"))
    procs = {
        d.name: subprocess.Popen(
            [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out / d.name), str(d)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_env(),
        )
        for d in dirs
    }
    failures = {}
    for name, proc in procs.items():
        try:
            output, _ = proc.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
        if proc.returncode != 0:
            failures[name] = output[-3000:]
    assert not failures, "wheel builds failed:\n" + "\n\n".join(f"== {n}\n{o}" for n, o in failures.items())
    wheels: dict[str, Path] = {}
    flat = out / "all"
    flat.mkdir()
    for name in procs:
        (wheel,) = (out / name).glob("*.whl")
        parsed = _WHEEL_NAME.fullmatch(wheel.name)
        assert parsed is not None, wheel.name
        wheels[normalize(parsed["name"])] = Path(shutil.copy2(wheel, flat / wheel.name))
    return wheels


def _metadata(wheel: Path) -> Any:
    with zipfile.ZipFile(wheel) as zf:
        (meta,) = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")]
        return HeaderParser().parsestr(zf.read(meta).decode("utf-8"))


def test_every_package_builds_a_wheel(wheelhouse: dict[str, Path]) -> None:
    assert set(wheelhouse) == set(_pyprojects())


def test_wheels_ship_the_whole_import_package(wheelhouse: dict[str, Path]) -> None:
    for dist, data in _pyprojects().items():
        with zipfile.ZipFile(wheelhouse[dist]) as zf:
            names = [n for n in zf.namelist() if ".dist-info/" not in n]
        assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")], dist
        targets = data["tool"]["hatch"]["build"]["targets"]["wheel"].get("packages", [])
        if not targets:  # the meta-package: metadata only
            assert names == [], f"{dist} should ship no code: {names}"
            continue
        (target,) = targets
        src = REPO / "packages" / dist / target
        expected = {f"{src.name}/{p.relative_to(src).as_posix()}" for p in src.rglob("*") if p.is_file()}
        expected = {n for n in expected if "__pycache__" not in n and not n.endswith(".pyc")}
        if dist == "waitbus-cli":  # hatch_build.py ships the top-level units/ inside the package
            units = REPO / "units"
            expected |= {
                f"waitbus_cli/units/{p.relative_to(units).as_posix()}" for p in units.rglob("*") if p.is_file()
            }
        assert set(names) == expected, dist
        assert f"{src.name}/py.typed" in names


def test_wheel_metadata_matches_pyproject(wheelhouse: dict[str, Path], packages: Any) -> None:
    """Version from version.toml, dependencies from the hook table with {version} filled in."""
    from packaging.requirements import Requirement

    def key(req: str) -> tuple[str, str, str]:
        r = Requirement(req)
        return normalize(r.name), str(r.specifier), str(r.marker or "")

    for package in packages:
        meta = _metadata(wheelhouse[package.dist])
        assert normalize(meta["Name"]) == package.dist
        assert meta["Version"] == package.version
        core = {key(r) for r in meta.get_all("Requires-Dist") or [] if "extra ==" not in r}
        assert core == {key(r) for r in package.dependencies}, package.dist
        assert "LICENSE" in (meta.get_all("License-File") or []), package.dist


def test_internal_pins_resolve_within_the_build(wheelhouse: dict[str, Path]) -> None:
    """Every ==pin on one of our distributions names a wheel we just built, at that version."""
    from packaging.requirements import Requirement

    built = {dist: _metadata(w)["Version"] for dist, w in wheelhouse.items()}
    for dist, wheel in wheelhouse.items():
        for raw in _metadata(wheel).get_all("Requires-Dist") or []:
            req = Requirement(raw)
            if normalize(req.name) in built:
                assert built[normalize(req.name)] in req.specifier, f"{dist}: {raw} vs built {built}"


@pytest.fixture(scope="module")
def third_party_wheels(tmp_path_factory: pytest.TempPathFactory, packages: Any) -> Path:
    """A directory holding wheels for the SDK closure's third-party requirements."""
    offline = os.environ.get("WAITBUS_WHEELHOUSE")
    if offline:
        return Path(offline)
    from packaging.requirements import Requirement

    by_name = {p.dist: p for p in packages}
    wanted = [
        req
        for dist in ("waitbus-sdk", "waitbus-wire", "waitbus-store")
        for req in by_name[dist].dependencies
        if normalize(Requirement(req).name) not in by_name
    ]
    wanted = list(dict.fromkeys(wanted))
    dest = tmp_path_factory.mktemp("third-party")
    cmd = [sys.executable, "-m", "pip", "download", "--only-binary=:all:", "--dest", str(dest), *wanted]
    try:
        result = _run(cmd, timeout=300)
    except subprocess.TimeoutExpired:
        pytest.skip(f"pip download {' '.join(wanted)} timed out: no index reachable? (set WAITBUS_WHEELHOUSE)")
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        pytest.skip(f"cannot pip download {' '.join(wanted)} (set WAITBUS_WHEELHOUSE for offline runs):\n{tail}")
    return dest


def test_sdk_installs_alone_into_a_clean_venv(
    wheelhouse: dict[str, Path], third_party_wheels: Path, tmp_path: Path
) -> None:
    venv = tmp_path / "venv"
    made = _run([sys.executable, "-m", "venv", str(venv)], timeout=120)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"

    install = _run(
        [
            str(python), "-m", "pip", "install", "--no-index",
            "--find-links", str(wheelhouse["waitbus-sdk"].parent),
            "--find-links", str(third_party_wheels),
            str(wheelhouse["waitbus-sdk"]),
        ],
        timeout=180,
    )  # fmt: skip
    assert install.returncode == 0, install.stdout + install.stderr

    listed = _run([str(python), "-m", "pip", "list", "--format=json"], timeout=60)
    assert listed.returncode == 0, listed.stderr
    installed = {normalize(p["name"]) for p in json.loads(listed.stdout)} - {"pip", "setuptools", "wheel"}
    assert installed == SDK_CLOSURE

    check = _run([str(python), "-m", "pip", "check"], timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr

    probe = (
        "import waitbus, sys\n"
        f"loaded = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN_ON_IMPORT!r}]\n"
        "assert not loaded, loaded\n"
        "print(waitbus.__file__)\n"
        "print(waitbus.emit)\n"
    )
    ran = _run([str(python), "-I", "-c", probe], timeout=60, cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    file, emitted = ran.stdout.splitlines()[:2]
    assert Path(file).resolve().is_relative_to(venv.resolve()), f"imported {file}, not the installed wheel"
    assert emitted.startswith("<function emit")

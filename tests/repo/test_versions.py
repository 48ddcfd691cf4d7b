"""One version for the whole workspace (version.toml), read by every distribution through
hatch, exact `=={version}` pins between our distributions, and the uv workspace that keeps
ours coming from packages/. (integration/dist/test_versions_bump.py moves the version of a
copy with `hatch version` and checks the built metadata.)"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement

REPO = Path(__file__).resolve().parents[2]


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_one_version_is_canonical() -> None:
    from packaging.version import Version

    version = tomllib.loads((REPO / "version.toml").read_text())["version"]
    assert str(Version(version)) == version


def test_every_distribution_reads_the_one_version(package: Any) -> None:
    project = package.data["project"]
    assert "version" not in project, "the version lives in version.toml only"
    assert "version" in project["dynamic"]
    assert package.data["tool"]["hatch"]["version"] == {"path": "../../version.toml"}


def test_dependencies_come_from_the_hook(package: Any) -> None:
    project = package.data["project"]
    assert "dependencies" not in project and "optional-dependencies" not in project
    assert "dependencies" in project["dynamic"]
    assert ("optional-dependencies" in project["dynamic"]) == bool(package.extras)


def test_every_package_links_the_shared_hook_and_license(package: Any) -> None:
    for name, target in (("hatch_build.py", "../../tools/hatch_build.py"), ("LICENSE", "../../LICENSE")):
        link = package.dir / name
        assert link.is_symlink() and os.readlink(link) == target, f"{link} must be a link to {target}"
        assert link.resolve(strict=True).is_file()
    assert "hooks" in package.data["tool"]["hatch"]["build"], "[tool.hatch.build.hooks.custom] is missing"


def test_every_internal_requirement_is_an_exact_pin_on_the_version(packages: Any) -> None:
    internal = {p.dist for p in packages}
    raw = [(p.dist, r) for p in packages for r in p.requirements.get("dependencies", [])]
    raw += [
        (p.dist, r) for p in packages for reqs in p.requirements.get("optional-dependencies", {}).values() for r in reqs
    ]
    pins = [(dist, r) for dist, r in raw if normalize(Requirement(r.replace("{version}", "0")).name) in internal]
    assert pins, "expected internal requirements (the meta-package pins every distribution)"
    wrong = [(dist, r) for dist, r in pins if not re.fullmatch(r"[a-z-]+(\[[a-z,]+\])?==\{version\}", r)]
    assert not wrong, f"internal requirements must be exactly =={{version}}: {wrong}"


def test_meta_package_pins_every_distribution(packages: Any) -> None:
    (meta,) = [p for p in packages if p.is_meta]
    pinned = {normalize(Requirement(r).name) for r in meta.dependencies}
    pinned |= {normalize(Requirement(r).name) for reqs in meta.extras.values() for r in reqs}
    assert pinned == {p.dist for p in packages} - {"waitbus"}


def test_the_meta_package_exposes_the_stack_commands(packages: Any) -> None:
    """`uv tool install` and `pipx install` expose only the named package's own scripts."""
    (meta,) = [p for p in packages if p.is_meta]
    scripts = meta.data["project"]["scripts"]
    for dist in ("waitbus-cli", "waitbus-mcp"):
        (package,) = [p for p in packages if p.dist == dist]
        for name, target in package.data["project"]["scripts"].items():
            assert scripts.get(name) == target, f"the meta-package must expose {name} = {target!r}"


def test_the_uv_workspace_sources_name_every_distribution(packages: Any) -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert root["tool"]["uv"]["workspace"]["members"] == ["packages/*"]
    sources = root["tool"]["uv"]["sources"]
    missing = sorted({p.dist for p in packages} - set(sources))
    lines = [f"{m} = {{ workspace = true }}" for m in missing]
    assert not missing, f"add to [tool.uv.sources] in pyproject.toml: {lines}"
    assert all(sources[p.dist] == {"workspace": True} for p in packages)
    # `uv sync` installs everything: the meta-package with every extra, the CLI's analyze.
    assert root["project"]["dependencies"] == ["waitbus[nats]", "waitbus-cli[analyze]"]

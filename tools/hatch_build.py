"""The hatch hooks every waitbus distribution shares: packages/*/hatch_build.py links here.

Metadata hook: the version is read from version.toml (``[tool.hatch.version]``), and the
requirements in ``[tool.hatch.metadata.hooks.custom]`` become the distribution's
dependencies with ``{version}`` replaced by it, so one ``hatch version X`` moves every
distribution and every exact pin between them.

Build hook: an sdist must build on its own, away from the repository, so the links a
package directory holds into the repository (this file, LICENSE) go into the sdist as the
files they point at; a wheel gets the repository directories named in ``repo-dirs`` (the
CLI's units/) when it is built from the repository rather than from an sdist that already
carries them. Building a wheel from an sdist takes version and dependencies from its
PKG-INFO, so version.toml is only read in the repository.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface
from hatchling.metadata.plugin.interface import MetadataHookInterface

PLACEHOLDER = "{version}"
TEMPLATED = ("dependencies", "optional-dependencies")


def render(value: Any, version: str) -> Any:
    """``value`` (a requirement list, or a table of them) with every ``{version}`` filled in."""
    if isinstance(value, str):
        return value.replace(PLACEHOLDER, version)
    if isinstance(value, list):
        return [render(item, version) for item in value]
    if isinstance(value, dict):
        return {key: render(item, version) for key, item in value.items()}
    raise TypeError(f"[tool.hatch.metadata.hooks.custom]: expected strings, lists or tables; got {value!r}")


class PinsHook(MetadataHookInterface):
    PLUGIN_NAME = "custom"

    def update(self, metadata: dict[str, Any]) -> None:
        dynamic = metadata.get("dynamic", [])
        for field in TEMPLATED:
            if field in dynamic and field in self.config:
                metadata[field] = render(self.config[field], metadata["version"])


class SharedFilesHook(BuildHookInterface):  # type: ignore[type-arg]  # generic only in its stubs
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        force_include: dict[str, str] = build_data["force_include"]
        if self.target_name == "sdist":
            for link in sorted(p for p in root.iterdir() if p.is_symlink()):
                force_include.pop(str(link), None)
                force_include[str(link.resolve(strict=True))] = link.name
        elif self.target_name == "wheel":
            for source, target in self.config.get("repo-dirs", {}).items():
                in_repo = root.parent.parent / source
                if in_repo.is_dir() and not (root / "src" / target).exists():
                    force_include[str(in_repo)] = target

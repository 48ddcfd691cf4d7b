"""Ship the repository's top-level units/ inside the wheel as waitbus_cli/units.

A static `force-include` of "../../units" works from the source tree but not when the
wheel is built from an sdist (the path is gone there; the sdist carries the units at
src/waitbus_cli/units instead), so the mapping is added only when it applies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class UnitsHook(BuildHookInterface):  # type: ignore[type-arg]  # generic only in its stubs
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        repo_units = root.parent.parent / "units"
        if repo_units.is_dir() and not (root / "src" / "waitbus_cli" / "units").exists():
            build_data["force_include"][str(repo_units)] = "waitbus_cli/units"

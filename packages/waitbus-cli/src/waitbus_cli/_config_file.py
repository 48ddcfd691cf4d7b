"""Where the config file is: light enough for the `wait`/`on` fast path (no pydantic)."""

from __future__ import annotations

import os
from pathlib import Path


def config_path() -> Path:
    """$WAITBUS_CONFIG, else config.toml in the platform's user config dir."""
    explicit = os.environ.get("WAITBUS_CONFIG")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_config_dir("waitbus", appauthor=False)) / "config.toml"

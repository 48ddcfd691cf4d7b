"""The configuration error every waitbus package shares."""

from __future__ import annotations


class ConfigError(RuntimeError):
    """Bad configuration, arguments or secrets (exit code 2): restarting will not help;
    the message says how to fix it."""

"""Reading the 0600 secrets file (`<state dir>/secrets.json`), which the listener, the
GitHub poller and the NATS bridge share (`waitbus install-credentials` writes it).
Values never go through argv and are never printed, not even in errors."""

from __future__ import annotations

import json
import os

from ._errors import ConfigError


class SecretsError(ConfigError):
    """The secrets file exists but cannot be used; the message says how to fix it."""


def read_secrets(path: str | os.PathLike[str]) -> dict[str, str]:
    """The file as a dict; {} if it does not exist. Refuses a file others can read and
    anything but a JSON object of strings."""
    try:
        mode = os.stat(path).st_mode & 0o777
    except FileNotFoundError:
        return {}
    if mode & 0o077:
        raise SecretsError(f"{path} is mode {mode:o}; it must be 0600 (chmod 600 {path})")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except OSError as exc:
        raise SecretsError(f"cannot read {path} ({exc.strerror})") from None
    except (ValueError, RecursionError) as exc:  # RecursionError: nested past the stack
        # json's messages quote positions, never the text, so no secret leaks here.
        raise SecretsError(f"{path} is not valid JSON ({exc}); fix or remove it") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in data.items()):
        raise SecretsError(f"{path} must be a JSON object of strings")
    return data

"""NATS credentials from the 0600 secrets file (`<state dir>/secrets.json`, written by
`waitbus install-credentials NAME`). Values never come from argv and are never printed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from waitbus_store import ConfigError

USER, PASSWORD, TOKEN, CREDS = "nats-user", "nats-password", "nats-token", "nats-creds"
SECRET_NAMES = (USER, PASSWORD, TOKEN, CREDS)


def auth_options(secrets: dict[str, str]) -> dict[str, Any]:
    """Keyword arguments for nats.connect: user/password, a token, or a creds file (path)."""
    user, password, token, creds = (secrets.get(n) for n in SECRET_NAMES)
    chosen = [n for n, v in ((USER, user), (TOKEN, token), (CREDS, creds)) if v]
    if len(chosen) > 1:
        raise ConfigError(f"the secrets file holds {' and '.join(chosen)}: stage only one way to authenticate")
    if bool(user) != bool(password):
        raise ConfigError(f"stage both {USER} and {PASSWORD} (waitbus install-credentials NAME), or neither")
    if user:
        return {"user": user, "password": password}
    if token:
        return {"token": token}
    if creds:
        if not Path(creds).is_file():
            raise ConfigError(f"{CREDS} names {creds}, which is not a file")
        return {"user_credentials": creds}
    return {}


def describe(options: dict[str, Any]) -> str:
    """How the bridge authenticates, for the start-up line (never the values)."""
    if "user" in options:
        return f"user {options['user']!r} with a password"
    if "token" in options:
        return "a token"
    if "user_credentials" in options:
        return f"creds file {options['user_credentials']}"
    return "no credentials"

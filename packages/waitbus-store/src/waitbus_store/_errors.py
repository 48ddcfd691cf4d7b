"""The base of every error waitbus-store raises on purpose, and the configuration error
every waitbus package shares."""

from __future__ import annotations


class StoreBaseError(RuntimeError):
    """The event log, its directories, its schema, the secrets file or a configuration
    cannot be used (StoreError, PathError, SchemaError, SecretsError, ConfigError); the
    message says what to do."""


class ConfigError(StoreBaseError):
    """Bad configuration, arguments or secrets (exit code 2): restarting will not help;
    the message says how to fix it."""

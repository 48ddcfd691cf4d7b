"""The base of every error the GitHub source raises on purpose."""

from __future__ import annotations


class GitHubError(RuntimeError):
    """The GitHub source cannot go on (ApiError, RateLimited, ConfigError)."""

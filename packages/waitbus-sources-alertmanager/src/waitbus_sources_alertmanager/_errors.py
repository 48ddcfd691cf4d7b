"""The base of every error the Alertmanager source raises on purpose."""

from __future__ import annotations


class AlertmanagerError(Exception):
    """A delivery the source refuses (PayloadError, AuthError)."""

"""Errors the SDK raises. All derive from WaitbusError."""

from __future__ import annotations


class WaitbusError(RuntimeError):
    """Base class of every error the waitbus SDK raises on purpose."""


class HubUnavailable(WaitbusError):
    """No hub answers and none could be started; the message says what to do."""


class HubRejected(WaitbusError):
    """The hub refused the subscription (unsupported protocol)."""

"""The base of every error waitbus-wire raises on purpose: bad input, so a ValueError."""

from __future__ import annotations


class WireError(ValueError):
    """A frame, message, event or predicate that breaks the contract; the message says how."""

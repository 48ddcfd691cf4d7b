"""The base of every error the hub raises on purpose."""

from __future__ import annotations

from waitbus_wire import ExitCode


class HubError(RuntimeError):
    """The hub cannot start (or refuses a subscriber's `where`); the message says why.
    `code` is the exit status."""

    def __init__(self, message: str, code: int = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code

"""The base of every error the CLI raises on purpose: a message and the exit code."""

from __future__ import annotations

from waitbus_wire import ExitCode


class CliError(Exception):
    """A failure the verb reports as one line on stderr and exit `code`."""

    def __init__(self, message: str, code: int = ExitCode.USAGE) -> None:
        super().__init__(message)
        self.code = code

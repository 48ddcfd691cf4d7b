"""Why the bridge stops, and the exit code each reason maps to (docs/exit-codes.md)."""

from __future__ import annotations

from waitbus_wire import ExitCode

OK: int = ExitCode.OK
FAILED: int = ExitCode.FAILED  # a bug: an unexpected exception (its traceback is printed)
USAGE: int = ExitCode.USAGE  # bad flags, config, predicate or secrets; credentials refused; no JetStream; no hub
ALREADY_CONNECTED: int = ExitCode.ALREADY_RUNNING  # a bridge of this bus (same identity) is connected
STORE: int = ExitCode.STORE  # the local event log could not be opened, read or written
UNREACHABLE: int = ExitCode.UNREACHABLE  # no NATS server answered within the bounded connection retries
INTERRUPTED: int = ExitCode.INTERRUPTED  # SIGINT


class BridgeError(RuntimeError):
    """A reason to stop, with the fix in the message and an exit code."""

    exit_code = FAILED


class AuthFailed(BridgeError):
    """The server refused the credentials."""

    exit_code = USAGE


class AlreadyConnected(BridgeError):
    """Another bridge of this bus is connected; starting again will not help until it stops."""

    exit_code = ALREADY_CONNECTED


class Unreachable(BridgeError):
    """No server answered; a later start may succeed (systemd restarts on this code)."""

    exit_code = UNREACHABLE


class StoreFailed(BridgeError):
    """The local log could not be used."""

    exit_code = STORE

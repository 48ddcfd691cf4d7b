"""The verbs' short names for the exit codes; the codes are defined once, in
waitbus_wire.ExitCode (docs/exit-codes.md)."""

from waitbus_wire import ExitCode

OK: int = ExitCode.OK
FAILED: int = ExitCode.FAILED
USAGE: int = ExitCode.USAGE
ALREADY_RUNNING: int = ExitCode.ALREADY_RUNNING
STORE: int = ExitCode.STORE
UNREACHABLE: int = ExitCode.UNREACHABLE
TIMEOUT: int = ExitCode.TIMEOUT
INTERRUPTED: int = ExitCode.INTERRUPTED

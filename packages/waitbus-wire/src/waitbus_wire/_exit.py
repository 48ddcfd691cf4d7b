"""The exit codes of every waitbus process, defined here only (docs/exit-codes.md says
what each means for each verb). An IntEnum: `sys.exit(ExitCode.USAGE)` exits 2."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a verdict or a problem: a red CI run, a doctor FAIL, a stale watchdog
    USAGE = 2  # bad input or flag, or cannot start
    ALREADY_RUNNING = 3  # another hub already serves this runtime dir; another bridge of this bus is connected
    STORE = 4  # the event log or state could not be written or read
    UNREACHABLE = 5  # a remote service (NATS) could not be reached
    TIMEOUT = 124  # nothing matched in time
    NOT_EXECUTABLE = 126  # `on`: the command is not executable
    NOT_FOUND = 127  # `on`: the command was not found
    INTERRUPTED = 130  # SIGINT
    BROKEN_PIPE = 141  # the reader of standard output went away

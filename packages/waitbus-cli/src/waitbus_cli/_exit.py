"""Exit codes shared by every verb (docs/exit-codes.md)."""

OK = 0
FAILED = 1  # wait: matched a GitHub run that failed/cancelled/timed out; doctor: a problem
USAGE = 2  # bad flag or input, hub unreachable and not startable
ALREADY_RUNNING = 3  # broadcast serve: another hub serves this runtime dir
STORE = 4  # emit: the event log could not be written
UNREACHABLE = 5  # bridge nats: no NATS server answered within the bounded retries
TIMEOUT = 124
INTERRUPTED = 130

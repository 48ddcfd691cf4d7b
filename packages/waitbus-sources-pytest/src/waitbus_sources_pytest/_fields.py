"""What the events say: the outcome word, the counts line, and the size caps.

Pure functions over plain values, so they are tested without running pytest, and
importing this module costs nothing (it is loaded with the plugin).
"""

from __future__ import annotations

SOURCE_NAME = "pytest"
SESSION_EVENT = "pytest_session"
FAILURE_EVENT = "pytest_failure"

OUTCOMES = ("passed", "failed", "error", "interrupted", "no_tests")

# pytest's report category (what pytest_report_teststatus answers) -> our count field.
CATEGORY_FIELDS = {
    "passed": "passed",
    "failed": "failed",
    "error": "errors",
    "skipped": "skipped",
    "xfailed": "xfailed",
    "xpassed": "xpassed",
}
COUNT_FIELDS = ("passed", "failed", "errors", "skipped", "xfailed", "xpassed", "deselected")

# The order and words of pytest's own last line ("1 failed, 2 passed, 1 error in 0.12s").
_SUMMARY_ORDER = (
    ("failed", "failed"),
    ("passed", "passed"),
    ("skipped", "skipped"),
    ("deselected", "deselected"),
    ("xfailed", "xfailed"),
    ("xpassed", "xpassed"),
    ("errors", "error"),
)

# Caps that keep one event well inside the bus's 48 KiB of fields.
LONGREPR_LIMIT = 4096
MESSAGE_LIMIT = 500
ARGS_BUDGET = 8192
ARG_LIMIT = 1024
MAX_FAILURE_EVENTS = 100

# exc type names seen by pytest_keyboard_interrupt
INTERRUPTED_BY_COLLECTION = "Interrupted"  # Session.Interrupted: "N errors during collection"
INTERRUPTED_BY_EXIT = "Exit"  # pytest.exit()


def outcome_of(exitstatus: int, *, collection_errors: int, interrupted_by: str | None) -> str:
    """passed, failed, error, interrupted or no_tests, from pytest's exit status.

    Exit status 2 means both "Ctrl-C" and "collection errors": pytest stops a session
    with collection errors by raising Session.Interrupted, a KeyboardInterrupt
    subclass. The latter is an error, not an interruption.
    """
    if exitstatus == 0:
        return "passed"
    if exitstatus == 1:
        return "failed"
    if exitstatus == 5:
        return "no_tests"
    if exitstatus == 2:
        if collection_errors and interrupted_by == INTERRUPTED_BY_COLLECTION:
            return "error"
        return "interrupted"
    if interrupted_by == INTERRUPTED_BY_EXIT:  # pytest.exit(msg, returncode=N)
        return "interrupted"
    return "error"  # 3 internal error, 4 usage error, or a code some plugin made up


def counts_text(counts: dict[str, int]) -> str:
    parts = []
    for key, word in _SUMMARY_ORDER:
        n = counts.get(key, 0)
        if n:
            parts.append(f"{n} {word}{'s' if key == 'errors' and n != 1 else ''}")
    return ", ".join(parts) or "no tests ran"


def session_summary(outcome: str, counts: dict[str, int], duration_s: float, rootdir: str) -> str:
    """`pytest failed: 3 failed, 40 passed in 12.30s (/path/to/project)`."""
    return f"pytest {outcome}: {counts_text(counts)} in {duration_s:.2f}s ({rootdir})"


def one_line(text: str, limit: int = MESSAGE_LIMIT) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def truncate_middle(text: str, limit: int = LONGREPR_LIMIT) -> str:
    """At most `limit` characters: a quarter from the head, the rest from the tail
    (the end of a traceback, where the assertion is, matters most)."""
    if len(text) <= limit:
        return text
    marker = f"\n... ({len(text) - limit} characters cut) ...\n"
    head = (limit - len(marker)) // 4
    tail = limit - len(marker) - head
    return text[:head] + marker + text[len(text) - tail :]


def cap_args(args: list[str], budget: int = ARGS_BUDGET, arg_limit: int = ARG_LIMIT) -> tuple[list[str], int]:
    """The invocation args within `budget` characters (each at most `arg_limit`), and
    how many were dropped: a CI job that passes thousands of node ids still fits."""
    kept: list[str] = []
    used = 0
    for i, raw in enumerate(args):
        arg = raw if len(raw) <= arg_limit else raw[: arg_limit - 3] + "..."
        if used + len(arg) > budget:
            return kept, len(args) - i
        kept.append(arg)
        used += len(arg)
    return kept, 0


def iso_utc(epoch_s: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch_s, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def env_flag(value: str | None) -> bool | None:
    """An on/off environment value: True, False, or None when unset or unclear."""
    if value is None:
        return None
    word = value.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    return None

"""The recorder: counts what pytest reports, and publishes when the session ends.

Counting asks pytest_report_teststatus, the hook the terminal reporter itself uses,
so the counts are pytest's own (xfail, strict xpass, setup/teardown errors, and any
plugin's categories). Every hook body is guarded: a bug here stops the recording
and is reported in the one warning line; it never fails a test or the session,
and never changes the exit status.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from ._fields import (
    CATEGORY_FIELDS,
    COUNT_FIELDS,
    FAILURE_EVENT,
    MAX_FAILURE_EVENTS,
    SESSION_EVENT,
    cap_args,
    iso_utc,
    one_line,
    outcome_of,
    session_summary,
    truncate_middle,
)
from ._publish import Publisher

DEFAULT_TIMEOUT_S = 3.0
# Exit statuses after which the terminal reporter calls pytest_terminal_summary.
_SUMMARY_EXIT_CODES = frozenset({0, 1, 2, 4, 5})
_EXIT_REASONS = {3: "internal error", 4: "usage error"}


def publish_timeout() -> float:
    """WAITBUS_PYTEST_TIMEOUT (seconds), else 3: the most a session end waits for the log."""
    try:
        value = float(os.environ.get("WAITBUS_PYTEST_TIMEOUT", DEFAULT_TIMEOUT_S))
    except ValueError:
        return DEFAULT_TIMEOUT_S
    return value if 0 < value < 3600 else DEFAULT_TIMEOUT_S


def _crash_message(report: pytest.TestReport | pytest.CollectReport, text: str) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    message = getattr(crash, "message", None)
    if isinstance(message, str) and message.strip():
        return one_line(message)
    lines = [line for line in text.splitlines() if line.strip()]
    return one_line(lines[-1]) if lines else ""


class SessionRecorder:
    def __init__(self, config: pytest.Config, *, failures: bool) -> None:
        self.config = config
        self.failures = failures
        self.counts = dict.fromkeys(COUNT_FIELDS, 0)
        self.other: dict[str, int] = {}
        self.collection_errors = 0
        self.xdist_collected: int | None = None
        self.interrupted_by: str | None = None
        self.reason: str | None = None
        self.failure_events = 0
        self.failures_dropped = 0
        self.broken: str | None = None
        self.pending_warning: str | None = None
        self.session_id = uuid.uuid4().hex
        self.started = time.time()
        self.t0 = time.perf_counter()
        self.publisher = Publisher()

    def _broke(self, exc: BaseException) -> None:
        if self.broken is None:
            self.broken = f"waitbus_sources_pytest bug, {type(exc).__name__}: {exc}"

    # -- what happens during the session -------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        self.started = time.time()
        self.t0 = time.perf_counter()

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if self.broken:
            return
        try:
            if report.failed:  # as the terminal reporter: a collection error counts as an error
                self.counts["errors"] += 1
                self.collection_errors += 1
                self._failure(report, "collect", "error")
            elif report.skipped:
                self.counts["skipped"] += 1
        except Exception as exc:
            self._broke(exc)

    def pytest_deselected(self, items: Sequence[pytest.Item]) -> None:
        self.counts["deselected"] += len(items)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        # Under xdist the controller collects nothing itself; each worker reports its ids.
        self.xdist_collected = max(self.xdist_collected or 0, len(ids))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if self.broken or not getattr(report, "count_towards_summary", True):
            return
        try:
            status = self.config.hook.pytest_report_teststatus(report=report, config=self.config)
            category = str(status[0]) if status else report.outcome
            if not category:  # a passing setup or teardown
                return
            key = CATEGORY_FIELDS.get(category)
            if key is not None:
                self.counts[key] += 1
            else:
                self.other[category] = self.other.get(category, 0) + 1
            if category in ("failed", "error"):
                self._failure(report, report.when, category)
        except Exception as exc:
            self._broke(exc)

    def pytest_keyboard_interrupt(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        # Ctrl-C, a test raising KeyboardInterrupt, pytest.exit(), or collection errors.
        self.interrupted_by = excinfo.typename
        message = str(excinfo.value).strip()
        self.reason = one_line(f"{excinfo.typename}: {message}" if message else excinfo.typename)

    def pytest_internalerror(self, excinfo: pytest.ExceptionInfo[BaseException]) -> None:
        self.reason = one_line(f"internal error, {excinfo.typename}: {excinfo.value}")

    def _failure(self, report: pytest.TestReport | pytest.CollectReport, when: str | None, outcome: str) -> None:
        if not self.failures:
            return
        if self.failure_events >= MAX_FAILURE_EVENTS:
            self.failures_dropped += 1
            return
        self.failure_events += 1
        text = report.longreprtext
        message = _crash_message(report, text)
        fields: dict[str, Any] = {
            "nodeid": report.nodeid,
            "when": when or "call",
            "outcome": outcome,
            "message": message,
            "longrepr": truncate_middle(text),
            "duration_s": round(float(getattr(report, "duration", 0.0)), 3),
            "rootdir": str(self.config.rootpath),
            "session_id": self.session_id,
        }
        location = getattr(report, "location", None)
        if location:
            fields["location"] = {"path": str(location[0]), "line": location[1], "domain": str(location[2])}
        summary = f"pytest {outcome}: {report.nodeid or '<rootdir>'} ({fields['when']})"
        if message:
            summary += f": {message}"
        self.publisher.submit(FAILURE_EVENT, fields, summary, f"{self.session_id}-{self.failure_events}")

    # -- the end ------------------------------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int | pytest.ExitCode) -> None:
        problem = self.broken
        if problem is None:
            try:
                fields, summary = self.session_fields(session, int(exitstatus))
                self.publisher.submit(SESSION_EVENT, fields, summary, self.session_id)
            except Exception as exc:
                self._broke(exc)
            problem = self.broken or self.publisher.finish(publish_timeout())
        if problem:
            line = f"waitbus: session not published: {one_line(problem, 300)} (off: -p no:waitbus or WAITBUS_PYTEST=0)"
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None and int(exitstatus) in _SUMMARY_EXIT_CODES:
                self.pending_warning = line  # shown in the summary, where the cursor is at column 0
            else:
                self._write(line)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.pending_warning:
            line, self.pending_warning = self.pending_warning, None
            self._write(line)

    def session_fields(self, session: pytest.Session, exitstatus: int) -> tuple[dict[str, Any], str]:
        duration = round(time.perf_counter() - self.t0, 3)
        outcome = outcome_of(exitstatus, collection_errors=self.collection_errors, interrupted_by=self.interrupted_by)
        reason = self.reason
        if reason is None and outcome in ("interrupted", "error"):
            reason = _EXIT_REASONS.get(exitstatus, f"exit status {exitstatus}")
        inv = self.config.invocation_params
        args, dropped = cap_args([str(a) for a in inv.args])
        invocation: dict[str, Any] = {"args": args, "dir": str(inv.dir)}
        if dropped:
            invocation["args_dropped"] = dropped
        rootdir = str(self.config.rootpath)
        # "collected N items" as pytest prints it: session.testscollected is what is left
        # after deselection (under xdist the workers' lists are, too).
        selected = self.xdist_collected if self.xdist_collected is not None else session.testscollected
        collected = selected + self.counts["deselected"]
        fields: dict[str, Any] = {
            "outcome": outcome,
            "exitstatus": exitstatus,
            **self.counts,
            "collected": collected,
            "duration_s": duration,
            "rootdir": rootdir,
            "inifile": str(self.config.inipath) if self.config.inipath else None,
            "invocation": invocation,
            "python_version": "{}.{}.{}".format(*sys.version_info[:3]),
            "pytest_version": pytest.__version__,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at": iso_utc(self.started),
            "finished_at": iso_utc(time.time()),
            "session_id": self.session_id,
        }
        if self.other:
            fields["other"] = dict(self.other)
        if reason and outcome in ("interrupted", "error"):
            fields["reason"] = reason
        if self.config.getoption("collectonly", False):
            fields["collect_only"] = True
        if self.failures:
            fields["failure_events"] = self.failure_events
            fields["failure_events_dropped"] = self.failures_dropped
        return fields, session_summary(outcome, self.counts, duration, rootdir)

    def _write(self, line: str) -> None:
        """One line on pytest's terminal (not `warnings`: users run with -W error)."""
        try:
            reporter = self.config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(line)
            else:
                sys.stderr.write(line + "\n")
        except Exception:  # noqa: S110 - a closed or broken terminal must not fail the session
            pass

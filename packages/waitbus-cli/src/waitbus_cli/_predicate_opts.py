"""The predicate flags `waitbus wait` and `waitbus on` share, and their meaning.

`build()` turns the raw flag values into wait_for/subscribe arguments and fails
fast (ValueError, PredicateError, EventError) before anything connects.
"""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waitbus import EventFrame


def add_predicate_args(parser: argparse.ArgumentParser, *, timeout_help: str) -> None:
    """The predicate flags shared by `wait` and `on`."""
    add = parser.add_argument
    add(
        "--match",
        action="append",
        metavar="KEY=JSON",
        help="repeatable dotted.key=<json>, e.g. fields.status='\"completed\"'; AND across keys, OR within a key",
    )
    add("--source", metavar="NAME", help="only events from this source")
    add(
        "--sha",
        metavar="PREFIX",
        help="GitHub head_sha prefix (7-40 hex): wait for that commit's run to reach a terminal conclusion",
    )
    add("--repo", metavar="OWNER/REPO", help="only events for this owner/repo")
    add(
        "--all-of",
        action="append",
        metavar="SOURCE:KEY=JSON",
        help="repeatable clause; every clause must be met by some event (sticky); not with --first-of",
    )
    add(
        "--first-of",
        action="append",
        metavar="SOURCE:KEY=JSON",
        help="repeatable clause; the first event meeting any clause wins",
    )
    add("--cond", metavar="NAME", help="a named condition from [conditions] in the config file or a plugin")
    add(
        "--since",
        metavar="DURATION|EVENT_ID",
        help="also look back at stored events: a duration (10m) or an event id (ULID)",
    )
    add("--timeout", metavar="DURATION", help=timeout_help)


def predicate_flags(ns: argparse.Namespace) -> dict[str, Any]:
    """The parsed predicate flags, as keyword arguments for build()."""
    return {
        k: getattr(ns, k) for k in ("match", "source", "sha", "repo", "all_of", "first_of", "cond", "since", "timeout")
    }


SHA_EVALUATOR = "waitbus-cli-sha"  # a private spec language: `waitbus-cli-sha:<prefix>`
CONDITIONS_GROUP = "waitbus.conditions.v1"
RUN_TYPES = ("workflow_run", "workflow_job")
FAILED_CONCLUSIONS = frozenset({"failure", "cancelled", "timed_out", "startup_failure"})
_SHA_RE = re.compile(r"^[0-9a-fA-F]{7,40}\Z")
_REPO_RE = re.compile(r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)\Z")


@dataclass
class WaitArgs:
    """Keyword arguments for waitbus.wait_for, plus the timeout in seconds."""

    match: list[str] = field(default_factory=list)
    source: str | None = None
    all_of: list[str] | None = None
    first_of: list[str] | None = None
    cond: str | None = None
    since: str | float | None = None
    timeout: float | None = None

    def kwargs(self) -> dict[str, Any]:
        return {
            "match": self.match or None,
            "source": self.source,
            "all_of": self.all_of,
            "first_of": self.first_of,
            "cond": self.cond,
            "since": self.since,
        }


def build(
    *,
    match: list[str] | None,
    source: str | None,
    sha: str | None,
    repo: str | None,
    all_of: list[str] | None,
    first_of: list[str] | None,
    cond: str | None,
    since: str | None,
    timeout: str | None,
) -> WaitArgs:
    """Validate the flags and map them to wait_for arguments."""
    import json

    from waitbus import Matcher, register_evaluator
    from waitbus_wire import check_name, parse_duration

    def lit(value: str) -> str:
        return json.dumps(value)

    if all_of and first_of:
        raise ValueError("use --all-of or --first-of, not both")
    args = WaitArgs(match=list(match or []), all_of=all_of or None, first_of=first_of or None, cond=cond)
    if source is not None:
        args.source = check_name("--source", source)
    if sha is not None:
        if not _SHA_RE.match(sha):
            raise ValueError(f"--sha must be 7-40 hex characters (a commit id prefix); got {sha!r}")
        if args.source not in (None, "github"):
            raise ValueError(f"--sha waits on GitHub runs; it cannot be combined with --source {args.source}")
        register_evaluator(SHA_EVALUATOR, _sha_test)
        # The grammar specs let the hub filter; the evaluator runs on the client.
        args.match += [f"source={lit('github')}", *(f"event_type={lit(t)}" for t in RUN_TYPES)]
        args.match.append(f"{SHA_EVALUATOR}:{sha.lower()}")
    if repo is not None:
        m = _REPO_RE.match(repo)
        if not m:
            raise ValueError(f"--repo must be OWNER/REPO, e.g. acme/app; got {repo!r}")
        args.match += [f"owner={lit(m.group(1))}", f"repo={lit(m.group(2))}"]
    if cond is not None:
        load_conditions(cond)
    if since is not None:
        args.since = _parse_since(since, parse_duration)
    if timeout is not None:
        try:
            args.timeout = parse_duration(timeout)
        except ValueError as exc:
            raise ValueError(f"--timeout: {exc}") from None
        if args.timeout <= 0:
            raise ValueError(f"--timeout must be more than 0; got {timeout!r}")
    # Parse everything now (raises PredicateError) so a typo fails before any wait.
    Matcher(args.match, source=args.source, cond=args.cond, all_of=args.all_of, first_of=args.first_of)
    return args


def _parse_since(text: str, parse_duration: Any) -> str | float:
    from waitbus_wire import is_ulid

    if is_ulid(text.upper()):
        return text.upper()
    try:
        seconds: float = parse_duration(text)
    except ValueError:
        raise ValueError(f"--since must be a duration (10m, 1h) or an event id (ULID); got {text!r}") from None
    return seconds


def run_info(frame: EventFrame, key: str) -> Any:
    """A GitHub run attribute (head_sha, status, conclusion) from flat fields, or
    nested under the event type as in the raw webhook payload."""
    value = frame.fields.get(key)
    if value is None:
        nested = frame.fields.get(frame.event_type)
        if isinstance(nested, dict):
            value = nested.get(key)
    return value


def is_failed_run(frame: EventFrame) -> bool:
    """A GitHub workflow run/job that ended in failure, cancellation or timeout."""
    return (
        frame.source == "github"
        and frame.event_type in RUN_TYPES
        and run_info(frame, "conclusion") in FAILED_CONCLUSIONS
    )


def _sha_test(prefix: str) -> Any:
    def test(frame: EventFrame) -> bool:
        head = run_info(frame, "head_sha")
        if frame.source != "github" or not isinstance(head, str) or not head.lower().startswith(prefix):
            return False
        if run_info(frame, "status") != "completed":
            return False  # queued / in_progress: keep waiting
        conclusion = run_info(frame, "conclusion")
        if conclusion in FAILED_CONCLUSIONS:
            return True  # a failed job already decides the commit
        # A job's success does not: other jobs of the run may still fail. Skipped,
        # neutral, action_required and stale are not verdicts at all.
        return conclusion == "success" and frame.event_type == "workflow_run"

    return test


def config_file() -> Path:
    """The config file: $WAITBUS_CONFIG, else the platform's user config dir."""
    explicit = os.environ.get("WAITBUS_CONFIG")
    if explicit:
        return Path(explicit)
    import platformdirs

    return Path(platformdirs.user_config_dir("waitbus", appauthor=False)) / "config.toml"


def load_conditions(wanted: str) -> None:
    """Register `wanted` from the config's [conditions] table (which wins) or the
    `waitbus.conditions.v1` entry points. A CLI process cannot see another process's
    register_condition(), so these two are where named conditions live."""
    from importlib.metadata import entry_points

    from waitbus import register_condition

    path = config_file()
    table = _config_conditions(path)
    plugins = {ep.name: ep for ep in entry_points(group=CONDITIONS_GROUP)}
    if wanted in table:
        specs: Any = table[wanted]
        origin = f"[conditions] in {path}"
    elif wanted in plugins:
        origin = f"entry point {plugins[wanted].value}"
        try:
            specs = plugins[wanted].load()
            if callable(specs):
                specs = specs()
        except Exception as exc:
            raise ValueError(f"condition {wanted!r} from {origin} failed to load: {exc}") from None
    else:
        known = ", ".join(sorted(set(table) | set(plugins))) or "none defined"
        raise ValueError(
            f"unknown condition {wanted!r} (known: {known}); define it in [conditions] of {path}, "
            f"e.g. {wanted} = ['fields.conclusion=\"success\"']"
        )
    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, list | tuple) or not all(isinstance(s, str) for s in specs):
        raise ValueError(f"condition {wanted!r} from {origin} must be a string or a list of key=json strings")
    try:
        register_condition(wanted, list(specs))
    except ValueError as exc:  # PredicateError / EventError
        raise ValueError(f"condition {wanted!r} from {origin}: {exc}") from None


def _config_conditions(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"cannot read the config file {path}: {exc}") from None
    table = data.get("conditions", {})
    if not isinstance(table, dict):
        raise ValueError(f"[conditions] in {path} must be a table of name = ['key=json', ...]")
    return table

"""`waitbus wait` and `waitbus on`: block on the bus until a predicate matches."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from . import _exit
from ._predicate_flags import add_predicate_args, predicate_flags
from ._wait_args import WaitArgs

if TYPE_CHECKING:
    from waitbus import EventFrame


def _fail(verb: str, message: object, code: int = _exit.USAGE) -> int:
    print(f"waitbus {verb}: {message}", file=sys.stderr)
    return code


def prepare(verb: str, **flags: object) -> WaitArgs | int:
    """The parsed flags, or the exit code after printing what is wrong."""
    from ._wait_args import build

    try:
        return build(**flags)  # type: ignore[arg-type]
    except ValueError as exc:  # also PredicateError and EventError
        return _fail(verb, exc)


def describe(frame: EventFrame) -> str:
    return f"{frame.event_id} {frame.source}/{frame.event_type} {frame.summary}"


def run_wait(args: WaitArgs, *, as_json: bool) -> int:
    from waitbus import HubRejected, HubUnavailable, is_failure, wait_for
    from waitbus_store import PathError, StoreError
    from waitbus_wire import event_json

    try:
        frame = wait_for(**args.kwargs(), timeout=args.timeout)
    except (HubUnavailable, HubRejected, PathError, StoreError, ValueError) as exc:
        return _fail("wait", exc)
    if frame is None:
        return _fail("wait", f"timed out after {args.timeout:g}s with no matching event", _exit.TIMEOUT)
    if as_json:
        sys.stdout.buffer.write(event_json(frame) + b"\n")
        sys.stdout.flush()
    else:
        print(describe(frame), flush=True)
    return _exit.FAILED if is_failure(frame) else _exit.OK


_WAIT_EPILOG = """examples:
  waitbus wait --source pytest --match 'fields.event_type="pytest_session"' --timeout 10m
  waitbus wait --sha 7f3a1b2 --timeout 5m        # exit 0 CI green, 1 red
  waitbus wait 'fields.outcome="failed"' --source pytest   # KEY=JSON is --match KEY=JSON
  waitbus wait --all-of 'pytest:fields.outcome="passed"' --all-of 'docker:fields.action="die"'

exit codes: 0 matched (a GitHub run: conclusion success), 1 matched a GitHub run that failed,
was cancelled or timed out, 2 bad flag or no hub, 124 timeout, 130 interrupted.
reference: docs/cli-wait.md"""

_ON_EPILOG = """examples:
  waitbus on --source pytest --match 'fields.outcome="failed"' -- notify-send 'tests failed'
  waitbus on --loop --restart --source fs -- make test
  waitbus on 'fields.outcome="failed"' -- notify-send 'tests failed'   # KEY=JSON is --match KEY=JSON

exit codes: CMD's own status (126 not executable, 127 not found, 128+N killed by signal N),
2 bad flag or no hub, 124 idle timeout, 130 interrupted. reference: docs/cli-wait.md"""


def _parser(verb: str, *, with_command: bool = False) -> argparse.ArgumentParser:
    if verb == "wait":
        p = argparse.ArgumentParser(
            prog="waitbus wait",
            epilog=_WAIT_EPILOG,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            description="Block until an event matches, print it, and exit with the verdict. Zero polling.",
        )
        add_predicate_args(p, timeout_help="give up after 30s, 10m, 1h (exit 124)")
        _add_positional_predicates(p)
        p.add_argument("--json", action="store_true", help="print the matched event as one JSON object")
        return p
    p = argparse.ArgumentParser(
        prog="waitbus on",
        usage="waitbus on [OPTIONS] [KEY=JSON ...] -- CMD [ARG ...]",
        epilog=_ON_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="When an event matches, run CMD (no shell). The event reaches CMD only as WAITBUS_* "
        "environment variables and the JSON file named by $WAITBUS_EVENT_FILE, never as arguments.",
    )
    add_predicate_args(p, timeout_help="idle limit: exit 124 after this long with no match")
    p.add_argument("--loop", action="store_true", help="run CMD for every match, one at a time")
    p.add_argument(
        "--restart", action="store_true", help="with --loop: a new match stops a running CMD and restarts it"
    )
    p.add_argument("--grace", metavar="DURATION", default="3s", help="time CMD gets after SIGTERM before SIGKILL")
    if with_command:
        # No `--`: everything from the first non-option word on is the command (and its flags).
        p.add_argument("command", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    else:
        _add_positional_predicates(p)
    return p


def _add_positional_predicates(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "predicate",
        nargs="*",
        metavar="KEY=JSON",
        help="the same as --match KEY=JSON (for `on`, the command then follows --)",
    )


def _looks_like_predicate(word: str) -> bool:
    key, eq, _ = word.partition("=")
    return bool(eq) and bool(key) and all(part.isidentifier() or part.isdigit() for part in key.split("."))


def fast_main(verb: str, args: list[str]) -> int:
    """`waitbus wait ...` / `waitbus on ... -- CMD`, parsed with argparse (no typer,
    no pydantic: these verbs start in tens of milliseconds)."""
    command: list[str] = []
    with_command = verb == "on" and "--" not in args
    if verb == "on" and not with_command:
        cut = args.index("--")
        args, command = args[:cut], args[cut + 1 :]
    try:
        parser = _parser(verb, with_command=with_command)
        # intermixed: `wait 'fields.x=1' --timeout 5s 'fields.y=2'` keeps both predicates
        ns = parser.parse_args(args) if with_command else parser.parse_intermixed_args(args)
    except SystemExit as exc:  # argparse: 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    command = command or list(getattr(ns, "command", None) or [])
    if command and with_command and _looks_like_predicate(command[0]):
        # Without `--` this word would run as the command: say so rather than guess.
        return _fail(
            verb,
            f"{command[0]!r} looks like a predicate: put the command after --, e.g. waitbus on '{command[0]}' -- CMD",
        )
    ns.match = [*(ns.match or []), *(getattr(ns, "predicate", None) or [])] or None
    try:
        if verb == "wait":
            prepared = prepare("wait", **predicate_flags(ns))
            return prepared if isinstance(prepared, int) else run_wait(prepared, as_json=ns.json)
        return _run_on(ns, command)
    except KeyboardInterrupt:
        return _exit.INTERRUPTED


def _run_on(ns: argparse.Namespace, command: list[str]) -> int:
    from waitbus_wire import parse_duration

    from ._on_exec import OnOptions, run_on

    if not command:
        return _fail("on", "give the command to run after --, e.g. waitbus on --source ci -- make")
    if ns.restart and not ns.loop:
        return _fail("on", "--restart needs --loop")
    try:
        grace_s = parse_duration(ns.grace)
    except ValueError as exc:
        return _fail("on", f"--grace: {exc}")
    prepared = prepare("on", **predicate_flags(ns))
    if isinstance(prepared, int):
        return prepared
    return run_on(prepared, OnOptions(argv=command, loop=ns.loop, restart=ns.restart, grace=grace_s))

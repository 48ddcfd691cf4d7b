"""`waitbus wait` and `waitbus on`: block on the bus until a predicate matches.

`waitbus wait` is a start-up cost in every script that waits, so its common forms are
parsed by hand and argparse (with re, gettext, shutil and lzma: ~5 ms) is imported only
when argparse must decide: help, abbreviations, a value that looks like an option, a
mistake. argparse stays the authority, so usage and errors read the same.
"""

from __future__ import annotations

import sys

from . import _exit
from ._predicate_flags import REPEATABLE, VALUE_FLAGS

TYPE_CHECKING = False  # not `from typing import ...`: see the module docstring
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from waitbus import EventView

    from ._wait_args import WaitArgs


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


def describe(frame: EventView) -> str:
    return f"{frame.event_id} {frame.source}/{frame.event_type} {frame.summary}"


def run_wait(args: WaitArgs, *, as_json: bool) -> int:
    from waitbus import HubRejected, HubUnavailable, wait_event

    def load_answer() -> None:
        """While nothing matches yet: import what answering takes (~1 ms after the event)."""
        from waitbus import is_failure  # noqa: F401

        if as_json:
            from waitbus_wire import event_json  # noqa: F401

    try:
        frame = wait_event(**args.kwargs(), timeout=args.timeout, on_idle=load_answer)
    except (HubUnavailable, HubRejected, ValueError) as exc:
        return _fail("wait", exc)
    except Exception as exc:
        if not is_store_error(exc):
            raise
        return _fail("wait", exc)
    if frame is None:
        return _fail("wait", f"timed out after {args.timeout:g}s with no matching event", _exit.TIMEOUT)
    if as_json:
        from waitbus_wire import event_json

        sys.stdout.buffer.write(event_json(frame) + b"\n")
        sys.stdout.flush()
    else:
        print(describe(frame), flush=True)
    from waitbus import is_failure  # the source's plugin loads only now, for its rule

    return _exit.FAILED if is_failure(frame) else _exit.OK


def is_store_error(exc: BaseException) -> bool:
    """PathError or StoreError, looked up only when something failed: naming them up
    front would import sqlite3 into every `waitbus wait`."""
    from waitbus_store import PathError, StoreError

    return isinstance(exc, PathError | StoreError)


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
    import argparse

    from ._predicate_flags import add_predicate_args

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


# The flags of each verb beside the predicate flags: with a value, and without.
_EXTRA_VALUE_FLAGS = {"wait": (), "on": ("grace",)}
_EXTRA_BOOL_FLAGS = {"wait": ("json",), "on": ("loop", "restart")}


def quick_parse(verb: str, args: list[str]) -> dict[str, Any] | None:
    """The flags as `_parser(verb).parse_intermixed_args(args)` would give them (the
    KEY=JSON words already folded into `match`), or None where argparse must decide
    (it then also prints the help or the error)."""
    value_flags = {"--" + f.replace("_", "-"): f for f in (*VALUE_FLAGS, *_EXTRA_VALUE_FLAGS[verb])}
    bool_flags = {"--" + f: f for f in _EXTRA_BOOL_FLAGS[verb]}
    found: dict[str, Any] = dict.fromkeys(value_flags.values())
    found.update(dict.fromkeys(bool_flags.values(), False))
    if verb == "on":
        found["grace"] = "3s"
    predicates: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-"):
            predicates.append(arg)
            continue
        name, eq, value = arg.partition("=")
        if name in bool_flags and not eq:
            found[bool_flags[name]] = True
            continue
        if name not in value_flags:
            return None  # "-", "--", -h, an abbreviation, a typo: argparse's call
        if not eq:
            if i == len(args) or args[i].startswith("-"):
                return None
            value = args[i]
            i += 1
        key = value_flags[name]
        if key in REPEATABLE:
            found[key] = [*(found[key] or []), value]
        else:
            found[key] = value
    found["match"] = [*(found["match"] or []), *predicates] or None
    return found


def _argparse(verb: str, args: list[str], *, with_command: bool) -> dict[str, Any] | int:
    """The flags as argparse parses them, or its exit code (2 bad usage, 0 --help)."""
    try:
        parser = _parser(verb, with_command=with_command)
        # intermixed: `wait 'fields.x=1' --timeout 5s 'fields.y=2'` keeps both predicates
        ns = parser.parse_args(args) if with_command else parser.parse_intermixed_args(args)
    except SystemExit as exc:
        return int(exc.code or 0)
    flags = vars(ns)
    flags["match"] = [*(flags["match"] or []), *(flags.pop("predicate", None) or [])] or None
    return flags


def fast_main(verb: str, args: list[str]) -> int:
    """`waitbus wait ...` / `waitbus on ... -- CMD` (no typer, no pydantic, and argparse
    only when needed: these verbs start in about twice a bare interpreter's time)."""
    command: list[str] = []
    with_command = verb == "on" and "--" not in args
    if verb == "on" and not with_command:
        cut = args.index("--")
        args, command = args[:cut], args[cut + 1 :]
    flags = None if with_command else quick_parse(verb, args)
    if flags is None:
        parsed = _argparse(verb, args, with_command=with_command)
        if isinstance(parsed, int):
            return parsed
        flags = parsed
    command = command or list(flags.pop("command", None) or [])
    if command and with_command and _looks_like_predicate(command[0]):
        # Without `--` this word would run as the command: say so rather than guess.
        return _fail(
            verb,
            f"{command[0]!r} looks like a predicate: put the command after --, e.g. waitbus on '{command[0]}' -- CMD",
        )
    try:
        if verb == "wait":
            prepared = prepare("wait", **{k: flags[k] for k in VALUE_FLAGS})
            return prepared if isinstance(prepared, int) else run_wait(prepared, as_json=flags["json"])
        return _run_on(flags, command)
    except KeyboardInterrupt:
        return _exit.INTERRUPTED


def _run_on(flags: dict[str, Any], command: list[str]) -> int:
    from waitbus_wire import parse_duration

    from ._on_exec import OnOptions, run_on

    if not command:
        return _fail("on", "give the command to run after --, e.g. waitbus on --source ci -- make")
    if flags["restart"] and not flags["loop"]:
        return _fail("on", "--restart needs --loop")
    try:
        grace_s = parse_duration(flags["grace"])
    except ValueError as exc:
        return _fail("on", f"--grace: {exc}")
    prepared = prepare("on", **{k: flags[k] for k in VALUE_FLAGS})
    if isinstance(prepared, int):
        return prepared
    return run_on(prepared, OnOptions(argv=command, loop=flags["loop"], restart=flags["restart"], grace=grace_s))

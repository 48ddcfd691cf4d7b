"""`waitbus emit SOURCE EVENT_TYPE [key=json ...]`.

This is the hottest command (scripts call it in loops), so its common form is parsed
by hand and nothing it does not need is imported: argparse (with re, gettext, shutil
and a formatter per option) cost ~5 ms of a ~40 ms run. argparse stays the authority:
anything the quick parser is not sure of (help, abbreviations, a value that looks like
an option, a mistake) is handed to it, so usage and errors read the same.
"""

from __future__ import annotations

import sys

from . import _exit

TYPE_CHECKING = False  # not `from typing import ...`: see the module docstring
if TYPE_CHECKING:
    import argparse
    from typing import Any

_VALUE_OPTIONS = {"--delivery-id", "--payload", "--owner", "--repo", "--summary"}
_FLAG_OPTIONS = {"--json"}


def parse_assignments(pairs: list[str]) -> dict[str, Any]:
    """`key=json` pairs into a fields dict; dotted keys build nested objects."""
    from waitbus_wire import parse_spec

    fields: dict[str, Any] = {}
    for pair in pairs:
        key, value = parse_spec(pair)
        node = fields
        *parents, leaf = key.split(".")
        for part in parents:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ValueError(f"{pair!r}: {part!r} is already set to a non-object value")
            node = child
        node[leaf] = value
    return fields


def read_payload(spec: str | None) -> Any:
    """`--payload` as JSON text, `@file` (raw bytes) or `-` (stdin)."""
    if spec is None:
        return None
    if spec == "-":
        return sys.stdin.buffer.read()
    if spec.startswith("@"):
        with open(spec[1:], "rb") as f:
            return f.read()
    import json

    try:
        json.loads(spec)
    except ValueError:
        raise ValueError("--payload is not valid JSON; use @FILE for a file or - for stdin") from None
    return spec


def run(
    source: str,
    event_type: str,
    assignments: list[str],
    *,
    delivery_id: str | None,
    payload: str | None,
    owner: str | None,
    repo: str | None,
    summary: str | None,
    as_json: bool,
) -> int:
    from waitbus import EventError, PredicateError, emit
    from waitbus_store import PathError, StoreError

    try:
        fields = parse_assignments(assignments)
        result = emit(
            source,
            event_type,
            fields=fields,
            payload=read_payload(payload),
            delivery_id=delivery_id,
            owner=owner,
            repo=repo,
            summary=summary,
        )
    except (EventError, PredicateError, ValueError, OSError) as exc:
        print(f"waitbus emit: {exc}", file=sys.stderr)
        return _exit.USAGE
    except (StoreError, PathError) as exc:
        print(f"waitbus emit: {exc}", file=sys.stderr)
        return _exit.STORE
    if as_json:
        import json

        print(json.dumps({"event_id": result.event_id, "inserted": result.inserted}))
    elif result.inserted:
        print(result.event_id)
    else:
        print(f"{result.event_id} (duplicate delivery id {delivery_id!r}: already stored, nothing new emitted)")
    return _exit.OK


def build_parser() -> argparse.ArgumentParser:
    import argparse

    p = argparse.ArgumentParser(
        prog="waitbus emit",
        description="Write one event to the bus and print its id. Works with no hub running.",
        epilog="example: waitbus emit agent build_done status='\"ok\"' count=3 --summary 'build 42 done'\n"
        "exit codes: 0 written (a repeated delivery id is reported, not an error), 2 bad input, "
        "4 the event log could not be written",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("source", help="source name, e.g. pytest, docker, agent, or a plugin's")
    p.add_argument("event_type", help="event type, e.g. pytest_session, agent_message")
    p.add_argument(
        "assignments",
        nargs="*",
        metavar="key=json",
        help="fields as key=<json>: status='\"done\"' count=3 ok=true (strings need JSON quotes)",
    )
    p.add_argument("--delivery-id", help="dedup key: emitting it again is a no-op")
    p.add_argument("--payload", help="raw payload: JSON text, @FILE, or - for stdin")
    p.add_argument("--owner", help="owner label (GitHub owner, or any label)")
    p.add_argument("--repo", help="repository label")
    p.add_argument("--summary", help="one-line summary shown by watchers")
    p.add_argument("--json", action="store_true", help="print {event_id, inserted} as JSON")
    return p


def quick_parse(args: list[str]) -> dict[str, Any] | None:
    """The arguments as build_parser() would parse them, or None where argparse must
    decide (it then also prints the help or the error)."""
    found: dict[str, Any] = {"delivery_id": None, "payload": None, "owner": None, "repo": None, "summary": None}
    found["json"] = False
    positional: list[str] = []
    run_ended = False  # argparse takes the positionals as one run: a later one is its call
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg == "-":
            if run_ended:
                return None
            positional.append(arg)
            continue
        if arg == "--":
            return None
        run_ended = bool(positional)
        name, eq, value = arg.partition("=")
        if name in _FLAG_OPTIONS and not eq:
            found["json"] = True
        elif name in _VALUE_OPTIONS and eq:
            found[name[2:].replace("-", "_")] = value
        elif name in _VALUE_OPTIONS and i < len(args) and (args[i] == "-" or not args[i].startswith("-")):
            found[name[2:].replace("-", "_")] = args[i]
            i += 1
        else:
            return None
    if len(positional) < 2:
        return None
    found["source"], found["event_type"], *found["assignments"] = positional
    return found


def fast_main(verb: str, args: list[str]) -> int:
    parsed = quick_parse(args)
    if parsed is None:
        try:
            parsed = vars(build_parser().parse_args(args))
        except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
            return int(exc.code or 0)
    return run(
        parsed["source"],
        parsed["event_type"],
        parsed["assignments"],
        delivery_id=parsed["delivery_id"],
        payload=parsed["payload"],
        owner=parsed["owner"],
        repo=parsed["repo"],
        summary=parsed["summary"],
        as_json=parsed["json"],
    )

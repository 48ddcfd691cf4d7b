"""`waitbus emit SOURCE EVENT_TYPE [key=json ...]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from . import _exit


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
        return Path(spec[1:]).read_bytes()
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


def fast_main(verb: str, args: list[str]) -> int:
    parser = build_parser()
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:  # argparse exits 2 on bad usage, 0 on --help
        return int(exc.code or 0)
    return run(
        ns.source,
        ns.event_type,
        ns.assignments,
        delivery_id=ns.delivery_id,
        payload=ns.payload,
        owner=ns.owner,
        repo=ns.repo,
        summary=ns.summary,
        as_json=ns.json,
    )

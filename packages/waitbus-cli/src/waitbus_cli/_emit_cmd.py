"""`waitbus emit SOURCE EVENT_TYPE [key=json ...]`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

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


def register(app: typer.Typer) -> None:
    @app.command()
    def emit(
        source: Annotated[str, typer.Argument(help="Source name, e.g. pytest, docker, agent, or a plugin's.")],
        event_type: Annotated[str, typer.Argument(help="Event type, e.g. pytest_session, agent_message.")],
        assignments: Annotated[
            list[str] | None,
            typer.Argument(help='Fields as key=<json>: status="done" count=3 ok=true (strings need JSON quotes).'),
        ] = None,
        delivery_id: Annotated[str | None, typer.Option(help="Dedup key: emitting it again is a no-op.")] = None,
        payload: Annotated[str | None, typer.Option(help="Raw payload: JSON text, @FILE, or - for stdin.")] = None,
        owner: Annotated[str | None, typer.Option(help="Owner label (GitHub owner, or any label).")] = None,
        repo: Annotated[str | None, typer.Option(help="Repository label.")] = None,
        summary: Annotated[str | None, typer.Option(help="One-line summary shown by watchers.")] = None,
        json: Annotated[bool, typer.Option("--json", help="Print {event_id, inserted} as JSON.")] = False,
    ) -> None:
        """Write one event to the bus and print its id. Works with no hub running.

        Example: waitbus emit agent build_done status='"ok"' count=3

        Exit codes: 0 written (or a repeated delivery id, reported), 2 bad input, 4 the log could not be written.
        """
        raise typer.Exit(
            run(
                source,
                event_type,
                assignments or [],
                delivery_id=delivery_id,
                payload=payload,
                owner=owner,
                repo=repo,
                summary=summary,
                as_json=json,
            )
        )

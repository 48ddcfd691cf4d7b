"""`waitbus emit SOURCE EVENT_TYPE [key=json ...]`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import msgspec

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
    try:
        msgspec.json.decode(spec)
    except msgspec.DecodeError:
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
        sys.stdout.write(
            msgspec.json.encode({"event_id": result.event_id, "inserted": result.inserted}).decode() + "\n"
        )
    elif result.inserted:
        print(result.event_id)
    else:
        print(f"{result.event_id} (duplicate delivery id {delivery_id!r}: already stored, nothing new emitted)")
    return _exit.OK

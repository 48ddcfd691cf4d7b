"""Ask the hub how it is: the subscribe frame {"op": "stats"} gets one hub_stats frame back."""

from __future__ import annotations

from typing import Any


def hub_stats(timeout: float = 2.0) -> dict[str, Any]:
    """{"reachable": True, ...the hub_stats keys} or {"reachable": False, "detail": why}.
    Blocks for at most `timeout` seconds; never starts a hub."""
    from waitbus import hub_stats as ask
    from waitbus_store import resolve_paths

    path = resolve_paths().socket
    stats, why = ask(path, timeout)
    out: dict[str, Any] = {"reachable": stats is not None, "socket": str(path)}
    if stats is None:
        out["detail"] = why
    else:
        import json

        from waitbus_wire import encode_message

        # through JSON: the per-subscriber list holds structs too
        out.update({k: v for k, v in json.loads(encode_message(stats)).items() if k != "kind"})
    return out

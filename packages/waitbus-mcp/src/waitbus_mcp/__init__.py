"""waitbus-mcp: the waitbus event bus as an MCP stdio server.

Run it with `waitbus-mcp` (or `uvx --find-links dist --from waitbus-mcp waitbus-mcp`, or `waitbus mcp serve`).
Tools: status, recent_events, tail_events, wait_for, emit, request, respond, inbox.
Resources: waitbus://event/{event_id} (fenced, 64 KiB), waitbus://event/{event_id}/raw and
waitbus://source/{name} (subscribable). See docs/mcp.md.
"""

from __future__ import annotations

from collections.abc import Sequence

__version__ = "0.1.0"
__all__ = ["__version__", "main"]


def main(argv: Sequence[str] | None = None) -> int:
    """The `waitbus-mcp` console script: serve MCP on stdin/stdout until stdin closes."""
    import gc

    # Importing the MCP SDK creates ~120,000 tracked objects (its pydantic protocol models),
    # and the collector re-traversing them while they are made is ~10% of the cold start.
    # They live as long as the process, so they are frozen out of every later collection
    # instead (collecting once would cost what it saved); the few hundred cyclic leftovers
    # of the import are kept with them.
    enabled = gc.isenabled()
    gc.disable()
    try:
        from ._server import main as run
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    return run(argv)

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
    from ._server import main as run

    return run(argv)

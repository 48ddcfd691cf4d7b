"""What `waitbus-mcp` loads before it answers: the MCP SDK and none of the bus. The waitbus
SDK, the store's reader (sqlite3 under it) and msgspec load at the first tool call, resource
read or push subscription, so a client's handshake never pays for them. Judged by the
interpreter's own import log (PYTHONPROFILEIMPORTTIME), never by a clock: the cold start
itself is measured in benchmarks/_startup.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# Loaded on first use only. duckdb and pydantic_settings are not used by this server at all;
# they are named so that a start-up path that grows them fails here.
DEFERRED = ("waitbus", "waitbus_store", "sqlite3", "msgspec", "duckdb", "pydantic_settings")

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 0,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "cold", "version": "0"}},
}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}
# The self time can be negative: CPython's import log mixes up threads importing at once.
IMPORT_LINE = re.compile(r"^import time:\s+-?\d+ \|\s+-?\d+ \| *(\S+)$", re.MULTILINE)
TOOL_CALL = "tools/call"

Reap = Callable[[subprocess.Popen[bytes]], subprocess.Popen[bytes]]


def _serve(
    server: Path, tmp_path: Path, reap: Reap, args: list[str], *requests: tuple[str, dict[str, Any]]
) -> tuple[list[Any], set[str]]:
    """Raw JSON-RPC lines, as a client sends them: initialize, then (if any `requests`, each a
    method and its params) the initialized notification and the requests, then stdin closes.
    The replies, in order, and every module the server imported in its whole life."""
    log = tmp_path / "importtime.log"
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    messages = [INITIALIZE]
    if requests:
        messages.append(INITIALIZED)
        messages += [{"jsonrpc": "2.0", "id": n, "method": m, "params": p} for n, (m, p) in enumerate(requests, 1)]
    with log.open("wb") as err:
        proc = reap(
            subprocess.Popen([str(server), *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, env=env)
        )
        assert proc.stdin is not None and proc.stdout is not None
        replies = []
        for message in messages:
            proc.stdin.write(json.dumps(message).encode() + b"\n")
            proc.stdin.flush()
            if "id" in message:
                replies.append(json.loads(proc.stdout.readline()))
        proc.stdin.close()
        assert proc.wait(30) == 0
    return replies, set(IMPORT_LINE.findall(log.read_text(errors="replace")))


@pytest.mark.timeout(90)
def test_answering_initialize_loads_only_the_mcp_sdk(waitbus_mcp, tmp_path, reap):
    """The benchmark's exchange (default flags, channel on): initialize, then stdin closes."""
    replies, imported = _serve(waitbus_mcp, tmp_path, reap, [])
    assert replies[0]["result"]["serverInfo"]["name"] == "waitbus"
    assert {"mcp_types", "mcp.server.lowlevel", "waitbus_mcp._server"} <= imported  # the log is read
    assert not imported & set(DEFERRED), f"loaded before any tool call: {sorted(imported & set(DEFERRED))}"


@pytest.mark.timeout(90)
def test_listing_tools_and_templates_loads_none_of_the_bus(waitbus_mcp, tmp_path, reap):
    """Without the channel nothing subscribes at the handshake: listing stays light too."""
    listing = [("tools/list", {}), ("resources/templates/list", {})]
    replies, imported = _serve(waitbus_mcp, tmp_path, reap, ["--no-channel"], *listing)
    assert len(replies[1]["result"]["tools"]) == 8 and replies[2]["result"]["resourceTemplates"]
    assert not imported & set(DEFERRED), f"loaded before any tool call: {sorted(imported & set(DEFERRED))}"


@pytest.mark.timeout(90)
def test_the_first_tool_calls_load_the_bus(waitbus_mcp, tmp_path, reap):
    """The control: the same log does show the deferred modules once tools run. One event
    is stored first, so recent_events decodes a row and loads msgspec whatever the status
    tool's two threads do (with no hub and an empty log they may answer without it)."""
    from waitbus import emit

    emit("agent", "tick", fields={"n": 1})
    calls = [(TOOL_CALL, {"name": "status", "arguments": {}}), (TOOL_CALL, {"name": "recent_events", "arguments": {}})]
    replies, imported = _serve(waitbus_mcp, tmp_path, reap, ["--no-channel"], *calls)
    assert all(reply["result"]["isError"] is False for reply in replies[1:]), replies
    assert {"waitbus", "waitbus_store", "sqlite3", "msgspec"} <= imported

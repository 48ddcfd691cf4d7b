"""`waitbus mcp serve` is the MCP server: a real MCP client session through the CLI door,
woken by an event another process emits; and the door's message when waitbus-mcp is absent."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import anyio
import pytest
from mcp import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests._support import WAITBUS

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _subscribers() -> int:
    from waitbus import hub_stats

    stats, why = hub_stats()
    assert stats is not None, why
    count = stats.subscribers
    assert isinstance(count, int)
    return count


def _emit(source: str, event_type: str, fields: str) -> str:
    code = f"from waitbus import emit; print(emit({source!r}, {event_type!r}, fields={fields}).event_id)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.timeout(120)
async def test_waitbus_mcp_serve_is_a_working_mcp_server(hub, tmp_path):
    env = {k: v for k, v in os.environ.items() if k.startswith(("WAITBUS_", "XDG_"))}
    params = StdioServerParameters(command=WAITBUS, args=["mcp", "serve", "--no-channel"], env=env)
    with (tmp_path / "server.log").open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            with anyio.fail_after(30):
                init = await session.initialize()
            assert init.server_info.name == "waitbus" and not init.capabilities.experimental  # --no-channel passed
            tools = {t.name for t in (await session.list_tools()).tools}
            assert {"status", "wait_for", "tail_events", "emit", "request", "respond", "inbox"} <= tools

            got = {}

            async def wait() -> None:
                res = await session.call_tool("wait_for", {"source": "ci", "match": "fields.ok=true", "timeout_s": 60})
                assert not res.is_error, res.content
                got.update(res.structured_content or {})

            async with anyio.create_task_group() as tg:
                tg.start_soon(wait)
                with anyio.fail_after(20):
                    while await anyio.to_thread.run_sync(_subscribers) < 1:
                        await anyio.sleep(0.02)
                started = time.monotonic()
                event_id = await anyio.to_thread.run_sync(_emit, "ci", "done", "{'ok': True}")
            assert time.monotonic() - started < 20
            assert got["matched"] is True and got["event"]["event_id"] == event_id


@pytest.mark.timeout(60)
def test_the_door_says_so_when_waitbus_mcp_is_not_installed():
    code = (
        "import importlib.util, sys\n"
        "real = importlib.util.find_spec\n"
        "importlib.util.find_spec = lambda name, *a: None if name == 'waitbus_mcp' else real(name, *a)\n"
        "sys.argv = ['waitbus', 'mcp', 'serve']\n"
        "from waitbus_cli import main\n"
        "sys.exit(main())\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False
    )
    assert out.returncode == 2, out.stdout + out.stderr
    assert (
        "waitbus-mcp is not installed" in out.stderr
        and "uvx --find-links dist --from waitbus-mcp waitbus-mcp" in out.stderr
    )
    assert out.stdout == "" and "Traceback" not in out.stderr

"""Drive `waitbus-mcp` the way an MCP client does: the mcp SDK's own ClientSession over
stdio_client, launching the installed console script as a subprocess with this test's
hermetic environment (its own state and runtime dirs, autostart off unless a test turns
it back on)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, types
from mcp.client.extension import NotificationBinding
from mcp.client.stdio import StdioServerParameters, stdio_client
from pydantic import BaseModel, ConfigDict

BIN = Path(sys.executable).parent
WAITBUS_MCP = BIN / "waitbus-mcp"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class ChannelParams(BaseModel):
    model_config = ConfigDict(extra="allow")
    content: str
    meta: dict[str, str] = {}


@dataclass
class McpRun:
    """One live server and the client session talking to it."""

    session: ClientSession
    init: types.InitializeResult
    stderr: Path
    notes: list[Any] = field(default_factory=list)
    channel: list[ChannelParams] = field(default_factory=list)

    async def call(self, name: str, arguments: dict[str, Any] | None = None, **kw: Any) -> types.CallToolResult:
        return await self.session.call_tool(name, arguments or {}, **kw)

    async def ok(self, name: str, arguments: dict[str, Any] | None = None) -> dict[str, Any]:
        """Call a tool that must succeed; its structured result."""
        res = await self.call(name, arguments)
        text = res.content[0].text if res.content and isinstance(res.content[0], types.TextContent) else ""
        assert not res.is_error, f"{name} failed: {text}\nserver stderr:\n{self.log()}"
        assert res.structured_content is not None
        return res.structured_content

    async def fails(self, name: str, arguments: dict[str, Any] | None = None) -> str:
        """Call a tool that must return a tool error; its message."""
        res = await self.call(name, arguments)
        assert res.is_error, f"{name} should have failed: {res.structured_content}"
        assert res.content and isinstance(res.content[0], types.TextContent)
        return res.content[0].text

    async def wait_note(self, test: Callable[[Any], bool], timeout: float = 15.0) -> Any:
        """The first notification (or channel params) passing `test`, seen within `timeout`."""
        with anyio.fail_after(timeout):
            while True:
                for note in [*self.notes, *self.channel]:
                    if test(note):
                        return note
                await anyio.sleep(0.02)  # test-side wait for a notification the server pushes

    def log(self) -> str:
        return self.stderr.read_text(errors="replace") if self.stderr.exists() else ""


def server_env() -> dict[str, str]:
    """The WAITBUS_* / XDG environment the root conftest gave this test."""
    keys = [k for k in os.environ if k.startswith(("WAITBUS_", "XDG_"))]
    return {k: os.environ[k] for k in keys}


OpenMcp = Callable[..., AbstractAsyncContextManager[McpRun]]


@pytest.fixture
def open_mcp(tmp_path: Path) -> OpenMcp:
    """`async with open_mcp(*args, command=..., env=...) as run:` an initialized session."""
    counter = iter(range(100))

    @asynccontextmanager
    async def opener(
        *args: str, command: Path | str = WAITBUS_MCP, env: dict[str, str] | None = None
    ) -> AsyncIterator[McpRun]:
        stderr = tmp_path / f"mcp-server-{next(counter)}.log"
        params = StdioServerParameters(command=str(command), args=list(args), env=env or server_env())
        run_box: list[McpRun] = []

        async def on_message(message: Any) -> None:
            if run_box and not isinstance(message, Exception):
                run_box[0].notes.append(message)

        async def on_channel(params: ChannelParams) -> None:
            if run_box:
                run_box[0].channel.append(params)

        binding = NotificationBinding(
            method="notifications/claude/channel", params_type=ChannelParams, handler=on_channel
        )
        with stderr.open("w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write, message_handler=on_message, notification_bindings=[binding]) as session,
            ):
                with anyio.fail_after(30):
                    init = await session.initialize()
                run = McpRun(session=session, init=init, stderr=stderr)
                run_box.append(run)
                yield run

    return opener


def _emit_elsewhere(source: str, event_type: str, fields: dict[str, Any], payload: str | None = None) -> str:
    """Emit from a separate Python process (not the server, not the test); its event id."""
    code = (
        "import json, sys\n"
        "from waitbus import emit\n"
        "a = json.loads(sys.argv[1])\n"
        "print(emit(a['source'], a['event_type'], fields=a['fields'], payload=a['payload']).event_id)\n"
    )
    import json

    arg = json.dumps({"source": source, "event_type": event_type, "fields": fields, "payload": payload})
    out = subprocess.run([sys.executable, "-c", code, arg], capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture
def emit_elsewhere() -> Callable[..., str]:
    """emit_elsewhere(source, event_type, fields) -> event id, from another process."""
    return _emit_elsewhere


@pytest.fixture
def mcp_env() -> dict[str, str]:
    return server_env()


@pytest.fixture
def waitbus_mcp() -> Path:
    """The installed `waitbus-mcp` console script, as an MCP client launches it."""
    return WAITBUS_MCP

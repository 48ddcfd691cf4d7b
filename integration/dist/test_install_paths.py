"""The README's install commands, each run verbatim from a fresh `make dist` in a fresh
environment (a throw-away HOME and tool homes: see tests/_support/dist.py), and checked to
have installed our builds, file for file, never the index's unrelated `waitbus`:

- (a) the SDK alone: exactly its closure;
- (b) the meta-package as a tool, by uv and by pipx: `waitbus`, `waitbus-mcp` and
  `waitbus-hub` on PATH, `waitbus demo` runs, and the Claude Code plugin's MCP command is
  found by `waitbus verify-plugin` and answers MCP;
- (c) the CI image: integration/bridge/test_bridge_ci_image.py;
- (d) `uvx ... waitbus-mcp` answers MCP `initialize` and `tools/list`.

With no wheels in dist/, every command fails and installs nothing of ours or theirs.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from tests._support import dist as wd

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

README = wd.REPO / "README.md"
SDK_CLOSURE = {"waitbus-sdk", "waitbus-wire", "waitbus-store", "msgspec", "platformdirs"}
STACK_COMMANDS = ("waitbus", "waitbus-mcp", "waitbus-hub")
# The README's Install block, one command per user path.
SDK = "pip install --find-links dist waitbus-sdk"
UV_TOOL = "uv tool install --find-links dist dist/waitbus-[0-9]*.whl"
PIPX = 'pipx install --pip-args="--find-links dist" dist/waitbus-[0-9]*.whl'
CI_IMAGE = "pip install --find-links dist waitbus-sources-pytest waitbus-bridge-nats"
UVX_MCP = "uvx --find-links dist --from waitbus-mcp waitbus-mcp"
DOCUMENTED = (SDK, UV_TOOL, PIPX, CI_IMAGE, UVX_MCP)


def readme_install_commands() -> list[str]:
    section = README.read_text().split("## Install\n", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```sh\n(.*?)```", section, re.S)
    return [line.split("  #", 1)[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_documents_exactly_the_tested_commands() -> None:
    assert readme_install_commands() == list(DOCUMENTED)


def test_the_plugin_and_mcp_docs_name_only_tested_commands() -> None:
    plugin = json.loads((wd.REPO / ".claude-plugin" / "plugin.json").read_text())
    assert plugin["mcpServers"]["waitbus"] == {"command": "waitbus-mcp", "args": []}
    for doc in (wd.REPO / "docs" / "mcp.md", wd.REPO / "packages" / "waitbus-mcp" / "README.md"):
        text = doc.read_text()
        assert "uvx --from waitbus-mcp" not in text, f"{doc.name}: uvx without --find-links fetches by name"
        assert UVX_MCP in text or "waitbus-mcp" in text


def mcp_session(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> list[dict[str, Any]]:
    """`initialize`, `notifications/initialized` and `tools/list` over stdio; the replies."""
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    with subprocess.Popen(
        argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=cwd
    ) as proc:
        try:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(json.dumps(messages[0]) + "\n")
            proc.stdin.flush()
            replies = [json.loads(proc.stdout.readline())]  # the first run of uvx installs first
            for message in messages[1:]:
                proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            replies.append(json.loads(proc.stdout.readline()))
            proc.stdin.close()
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
    return replies


def assert_answers_mcp(replies: list[dict[str, Any]]) -> None:
    init, tools = replies
    assert init["id"] == 1 and init["result"]["serverInfo"]["name"], init
    assert tools["id"] == 2, tools
    names = {t["name"] for t in tools["result"]["tools"]}
    assert {"status", "wait_for", "emit", "recent_events"} <= names, names


@pytest.fixture
def user(tmp_path: Path, dist_dir: Path, dist_caches: Path) -> tuple[wd.Home, Path]:
    """A throw-away user, in a folder holding a copy of the release as dist/."""
    return wd.Home(tmp_path / "user", dist_caches), wd.fresh_dist_link(tmp_path / "work", dist_dir)


def test_a_the_sdk_installs_exactly_its_closure(user: tuple[wd.Home, Path], dist_dir: Path) -> None:
    home, work = user
    venv_bin = wd.new_venv(home.root / "venv", home.env())
    env = home.env(venv_bin)
    done = wd.run(SDK, env, cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    found = wd.installed(venv_bin / "python", env)
    assert set(found) == SDK_CLOSURE
    assert wd.assert_ours(found, dist_dir) == {"waitbus-sdk", "waitbus-wire", "waitbus-store"}
    probe = wd.run([str(venv_bin / "python"), "-I", "-c", "import waitbus, sys; print(waitbus.emit.__module__)"], env)
    assert probe.returncode == 0 and probe.stdout.startswith("waitbus"), probe.stderr


def _tool_checks(home: wd.Home, python: Path, env: dict[str, str], dist_dir: Path, work: Path) -> None:
    for command in STACK_COMMANDS:
        assert (home.bin / command).exists(), f"{command} is not on PATH after the install"
    found = wd.installed(python, env)
    assert wd.assert_ours(found, dist_dir) == set(wd.distributions()) - {"waitbus-bridge-nats"}
    demo = wd.run(["waitbus", "demo"], env, timeout=180, cwd=work)
    assert demo.returncode == 0, demo.stdout + demo.stderr
    assert "latency" in demo.stdout.lower(), demo.stdout


def test_b_uv_tool_install_gives_the_stack_commands(user: tuple[wd.Home, Path], dist_dir: Path) -> None:
    home, work = user
    env = home.env()
    done = wd.run(UV_TOOL, env, cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    _tool_checks(home, home.root / "uv-tools" / "waitbus" / "bin" / "python", env, dist_dir, work)

    # The Claude Code plugin starts what the user installed: verify-plugin finds it, and it answers.
    checked = wd.run(["waitbus", "verify-plugin", "--json", str(wd.REPO)], env, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    command = json.loads(checked.stdout)["mcp_commands"]["waitbus"]
    assert command == str(home.bin / "waitbus-mcp")
    assert_answers_mcp(mcp_session([command], env, work))


def test_b_pipx_install_gives_the_stack_commands(user: tuple[wd.Home, Path], dist_dir: Path) -> None:
    home, work = user
    env = home.env()
    done = wd.run(PIPX, env, cwd=work)
    assert done.returncode == 0, done.stdout + done.stderr
    _tool_checks(home, home.root / "pipx" / "venvs" / "waitbus" / "bin" / "python", env, dist_dir, work)


def test_d_uvx_runs_the_mcp_server(user: tuple[wd.Home, Path], dist_dir: Path) -> None:
    home, work = user
    env = home.env()
    started = time.monotonic()
    replies = mcp_session(["bash", "-c", UVX_MCP], env, work)
    assert_answers_mcp(replies)
    # What uvx ran is ours: its cached environment holds our wheels, file for file.
    pythons = sorted((Path(env["UV_CACHE_DIR"]) / "archive-v0").glob("*/bin/python"), key=lambda p: p.stat().st_mtime)
    assert pythons, "uvx left no environment in its cache"
    ours = wd.assert_ours(wd.installed(pythons[-1], env), dist_dir)
    assert ours == {"waitbus-mcp", "waitbus-sdk", "waitbus-store", "waitbus-wire"}
    assert time.monotonic() - started < 300


@pytest.mark.parametrize("command", DOCUMENTED)
def test_without_our_wheels_every_command_fails_and_installs_nothing(
    command: str, tmp_path: Path, dist_caches: Path
) -> None:
    home = wd.Home(tmp_path / "user", dist_caches)
    (tmp_path / "work" / "dist").mkdir(parents=True)  # an empty dist/
    venv_bin = wd.new_venv(home.root / "venv", home.env())
    env = home.env(venv_bin)
    argv = ["bash", "-c", command]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tmp_path / "work", timeout=300, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:  # uvx would be a running server: it must not get that far
        pytest.fail(f"{command!r} ran something with an empty dist/")
    assert done.returncode != 0, f"{command!r} succeeded with an empty dist/:\n{done.stdout}{done.stderr}"
    found = wd.installed(venv_bin / "python", env)
    assert not [name for name in found if name.startswith("waitbus")], found
    assert not list(home.bin.glob("waitbus*")), "a waitbus command got installed"

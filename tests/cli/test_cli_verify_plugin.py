"""`waitbus verify-plugin`: the repository's own Claude Code plugin passes, and broken copies
of it (in tmp_path) fail with a message that names the JSON path of each problem."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support import WAITBUS, run_cli
from waitbus_cli._plugin_cmd import front_matter

REPO = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path = REPO, path: str | None = None) -> subprocess.CompletedProcess[str]:
    """verify-plugin as a user who installed waitbus runs it: this venv's commands on PATH."""
    env = {**os.environ, "PATH": path if path is not None else f"{Path(WAITBUS).parent}{os.pathsep}/usr/bin:/bin"}
    return run_cli("verify-plugin", *args, env=env, cwd=cwd)


@pytest.fixture
def plugin(tmp_path: Path) -> Path:
    """A copy of the repository's plugin: .claude-plugin/ and plugin/ under a new root."""
    root = tmp_path / "p"
    shutil.copytree(REPO / ".claude-plugin", root / ".claude-plugin")
    shutil.copytree(REPO / "plugin", root / "plugin")
    return root


def manifest(root: Path) -> Path:
    return root / ".claude-plugin" / "plugin.json"


def edit(root: Path, change: Callable[[dict[str, Any]], object]) -> None:
    data = json.loads(manifest(root).read_text())
    change(data)
    manifest(root).write_text(json.dumps(data))


# -- the real plugin ---------------------------------------------------------------------------


@pytest.mark.timeout(60)
def test_the_repository_plugin_passes_from_the_repo_root():
    out = run()
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""
    assert out.stdout.strip() == (
        f"{REPO / '.claude-plugin' / 'plugin.json'}: ok: plugin waitbus 0.1.0; skills: waitbus; "
        "commands: status, tail, wait; MCP servers: waitbus"
    )


@pytest.mark.timeout(60)
@pytest.mark.parametrize("arg", ["", ".", ".claude-plugin", ".claude-plugin/plugin.json"])
def test_the_repository_plugin_is_found_from_a_subdirectory_or_named(arg):
    out = run(*([arg] if arg else []), cwd=REPO / "docs" if not arg else REPO)
    assert out.returncode == 0, out.stderr
    assert ": ok: plugin waitbus 0.1.0" in out.stdout


@pytest.mark.timeout(60)
def test_the_repository_plugin_json_report():
    out = run("--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["ok"] is True and doc["problems"] == [] and doc["warnings"] == []
    assert (doc["name"], doc["version"]) == ("waitbus", "0.1.0")
    assert doc["skills"] == ["waitbus"]
    assert doc["commands"] == ["status", "tail", "wait"]
    assert doc["mcp_servers"] == ["waitbus"]
    assert doc["mcp_commands"] == {"waitbus": str(Path(WAITBUS).with_name("waitbus-mcp"))}


@pytest.mark.timeout(60)
def test_an_mcp_command_that_is_not_installed_is_a_problem(tmp_path):
    out = run(path=str(tmp_path))  # a PATH without waitbus-mcp: the user has not installed the stack
    assert out.returncode == 1, out.stdout
    assert "$.mcpServers.waitbus.command: 'waitbus-mcp' is not an executable on PATH" in out.stderr
    assert "uv tool install" in out.stderr


def test_the_repository_manifest_says_what_the_plugin_is():
    data = json.loads(manifest(REPO).read_text())
    assert data["name"] == "waitbus" and data["version"] == "0.1.0"
    assert data["description"] and data["author"]["name"]
    # what the user installed (README, Install), never a fetch by name from an index
    assert data["mcpServers"] == {"waitbus": {"command": "waitbus-mcp", "args": []}}
    assert data["skills"] == "./plugin/skills/" and data["commands"] == "./plugin/commands/"


def test_the_skill_teaches_waiting_instead_of_polling():
    text = (REPO / "plugin" / "skills" / "waitbus" / "SKILL.md").read_text()
    meta = front_matter(text)
    assert meta is not None and meta["name"] == "waitbus"
    assert "instead of" in meta["description"] and "polling" in meta["description"]
    for needle in ["waitbus wait", "--timeout", "--since", "124", "wait_for", "timeout_s", "untrusted"]:
        assert needle in text, needle


# -- broken copies -----------------------------------------------------------------------------


MANIFEST_BREAKS: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("no name", lambda d: d.pop("name"), "$.name: is required"),
    ("name with a space", lambda d: d.update(name="Wait Bus"), "$.name: must be kebab-case"),
    ("name not a string", lambda d: d.update(name=42), "$.name: must be a string; got a number"),
    ("name with underscore", lambda d: d.update(name="wait_bus"), "$.name: must be kebab-case"),
    ("no version", lambda d: d.pop("version"), "$.version: is required"),
    ("two-part version", lambda d: d.update(version="1.0"), "$.version: must be a semantic version"),
    ("leading zero", lambda d: d.update(version="01.0.0"), "$.version: must be a semantic version"),
    ("version a number", lambda d: d.update(version=1), "$.version: must be a string; got a number"),
    ("empty description", lambda d: d.update(description=" "), "$.description: must be a non-empty string"),
    ("author a string", lambda d: d.update(author="me <me@x>"), "$.author: must be an object with a name"),
    ("author without name", lambda d: d.update(author={"email": "a@b"}), "$.author.name: is required"),
    ("author email not a string", lambda d: d["author"].update(email=1), "$.author.email: must be a string"),
    ("keywords a string", lambda d: d.update(keywords="ci"), "$.keywords: must be an array of strings"),
    ("license a list", lambda d: d.update(license=["MIT"]), "$.license: must be a string; got an array"),
    ("commands missing dir", lambda d: d.update(commands="./nope/"), "$.commands: ./nope/ does not exist"),
    (
        "commands without ./",
        lambda d: d.update(commands="plugin/commands"),
        "$.commands: paths are relative to the plugin root and start with ./",
    ),
    ("skills escaping the root", lambda d: d.update(skills="./../x"), "$.skills: use forward slashes and no '..'"),
    ("absolute skills", lambda d: d.update(skills="/etc"), "$.skills: paths are relative to the plugin root"),
    (
        "a number in a command list",
        lambda d: d.update(commands=["./plugin/commands/wait.md", 3]),
        "$.commands[1]: must be a path string; got a number",
    ),
    (
        "a command file that is not markdown",
        lambda d: d.update(commands=["./.claude-plugin/plugin.json"]),
        "$.commands[0]: .claude-plugin/plugin.json is not a .md command file",
    ),
    ("empty skills list", lambda d: d.update(skills=[]), "$.skills: is an empty array"),
    (
        "server without command",
        lambda d: d["mcpServers"]["waitbus"].pop("command"),
        "$.mcpServers.waitbus.command: a stdio server needs a non-empty command string; missing",
    ),
    (
        "server command empty",
        lambda d: d["mcpServers"]["waitbus"].update(command=""),
        "$.mcpServers.waitbus.command: a stdio server needs a non-empty command string",
    ),
    (
        "server args a string",
        lambda d: d["mcpServers"]["waitbus"].update(args="--from waitbus-mcp"),
        "$.mcpServers.waitbus.args: must be an array of strings",
    ),
    (
        "server env not strings",
        lambda d: d["mcpServers"]["waitbus"].update(env={"X": 1}),
        "$.mcpServers.waitbus.env: must be an object of string values",
    ),
    ("server not an object", lambda d: d["mcpServers"].update(w=["uvx"]), "$.mcpServers.w: must be an object"),
    (
        "http server without url",
        lambda d: d["mcpServers"].update(remote={"type": "http"}),
        "$.mcpServers.remote.url: a http server needs a url string",
    ),
    ("no servers", lambda d: d.update(mcpServers={}), "$.mcpServers: names no server"),
    ("servers file missing", lambda d: d.update(mcpServers="./.mcp.json"), "$.mcpServers: ./.mcp.json does not exist"),
    ("hooks a number", lambda d: d.update(hooks=3), "$.hooks: must be a path or an object; got a number"),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("change", "message"), [b[1:] for b in MANIFEST_BREAKS], ids=[b[0] for b in MANIFEST_BREAKS])
def test_a_broken_manifest_fails_naming_the_json_path(plugin, change, message):
    edit(plugin, change)
    out = run(str(plugin))
    assert out.returncode == 1, out.stdout
    assert f"{manifest(plugin)}: {message}" in out.stderr, out.stderr
    assert out.stderr.rstrip().endswith("1 problem"), out.stderr
    assert out.stdout == ""


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"name": "waitbus",}',
            "$: not valid JSON: Expecting property name enclosed in double quotes (line 1, column 20)",
        ),
        ("[1, 2]", "$: the manifest must be a JSON object; got an array"),
        ("", "$: not valid JSON: Expecting value (line 1, column 1)"),
    ],
)
def test_a_manifest_that_is_not_a_json_object_fails(plugin, text, message):
    manifest(plugin).write_text(text)
    out = run(str(manifest(plugin)))
    assert out.returncode == 1
    assert f"{manifest(plugin)}: {message}" in out.stderr, out.stderr


@pytest.mark.timeout(60)
def test_a_manifest_that_is_not_utf8_fails(plugin):
    manifest(plugin).write_bytes(b'{"name": "\xff"}')
    out = run(str(plugin))
    assert out.returncode == 1 and "$: not UTF-8" in out.stderr


def _rewrite(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1))


def _empty_dir(path: Path) -> None:
    shutil.rmtree(path)
    path.mkdir()


FILE_BREAKS: list[tuple[str, Callable[[Path], object], str]] = [
    (
        "command without description",
        lambda root: _rewrite(root / "plugin/commands/tail.md", "description:", "summary:"),
        "$.commands (plugin/commands/tail.md): no description: line in its front matter",
    ),
    (
        "command without front matter",
        lambda root: (root / "plugin/commands/tail.md").write_text("List recent events.\n"),
        "$.commands (plugin/commands/tail.md): no description: line in its front matter",
    ),
    (
        "skill without front matter",
        lambda root: (root / "plugin/skills/waitbus/SKILL.md").write_text("# waitbus\n"),
        "$.skills (plugin/skills/waitbus/SKILL.md): no YAML front matter",
    ),
    (
        "skill front matter never closed",
        lambda root: _rewrite(root / "plugin/skills/waitbus/SKILL.md", "\n---\n\n# Waiting", "\n\n# Waiting"),
        "$.skills (plugin/skills/waitbus/SKILL.md): no YAML front matter",
    ),
    (
        "skill without description",
        lambda root: _rewrite(root / "plugin/skills/waitbus/SKILL.md", "description:", "about:"),
        "$.skills (plugin/skills/waitbus/SKILL.md): front matter has no description:",
    ),
    (
        "skill without name",
        lambda root: _rewrite(root / "plugin/skills/waitbus/SKILL.md", "name: waitbus", "title: waitbus"),
        "$.skills (plugin/skills/waitbus/SKILL.md): front matter has no name:",
    ),
    (
        "skill name not kebab-case",
        lambda root: _rewrite(root / "plugin/skills/waitbus/SKILL.md", "name: waitbus", "name: Wait_Bus"),
        "$.skills (plugin/skills/waitbus/SKILL.md): front matter name 'Wait_Bus': lowercase letters",
    ),
    (
        "skill name differs from its directory",
        lambda root: _rewrite(root / "plugin/skills/waitbus/SKILL.md", "name: waitbus", "name: bus-wait"),
        "front matter name 'bus-wait' differs from its directory 'waitbus'",
    ),
    (
        "skill description too long",
        lambda root: _rewrite(root / "plugin/skills/waitbus/SKILL.md", "description: ", "description: " + "x" * 1100),
        "front matter description is 1",
    ),
    (
        "skills dir with no skill",
        lambda root: shutil.rmtree(root / "plugin/skills/waitbus"),
        "$.skills: no <name>/SKILL.md under plugin/skills",
    ),
    (
        "commands dir with no command",
        lambda root: _empty_dir(root / "plugin/commands"),
        "$.commands: no .md command files under plugin/commands",
    ),
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("change", "message"), [b[1:] for b in FILE_BREAKS], ids=[b[0] for b in FILE_BREAKS])
def test_a_broken_skill_or_command_fails(plugin, change, message):
    change(plugin)
    out = run(str(plugin))
    assert out.returncode == 1, out.stdout
    assert message in out.stderr, out.stderr


@pytest.mark.timeout(60)
def test_every_problem_is_listed_and_counted(plugin):
    edit(plugin, lambda d: d.update(name="Bad Name", version="x", commands="./nope"))
    (plugin / "plugin/skills/waitbus/SKILL.md").write_text("no front matter\n")
    out = run(str(plugin), "--json")
    assert out.returncode == 1
    doc = json.loads(out.stdout)
    assert doc["ok"] is False
    assert [p["path"] for p in doc["problems"]] == [
        "$.name",
        "$.version",
        "$.skills (plugin/skills/waitbus/SKILL.md)",
        "$.commands",
    ]
    text = run(str(plugin))
    assert text.stderr.rstrip().endswith("4 problems")


@pytest.mark.timeout(60)
def test_an_unknown_key_is_a_warning_not_a_failure(plugin):
    edit(plugin, lambda d: d.update(extra=1))
    out = run(str(plugin))
    assert out.returncode == 0, out.stderr
    assert "warning: $.extra: not a key this checker knows" in out.stderr


@pytest.mark.timeout(60)
def test_servers_from_a_json_file_and_a_single_skill_dir_and_command_files(plugin):
    (plugin / ".mcp.json").write_text(json.dumps({"mcpServers": {"waitbus": {"command": "waitbus-mcp"}}}))
    edit(
        plugin,
        lambda d: d.update(
            mcpServers="./.mcp.json",
            skills="./plugin/skills/waitbus",
            commands=["./plugin/commands/wait.md", "./plugin/commands/status.md"],
        ),
    )
    out = run(str(plugin), "--json")
    assert out.returncode == 0, out.stdout
    doc = json.loads(out.stdout)
    assert (doc["skills"], doc["commands"], doc["mcp_servers"]) == (["waitbus"], ["wait", "status"], ["waitbus"])


@pytest.mark.timeout(60)
def test_a_manifest_outside_claude_plugin_is_a_problem(tmp_path):
    (tmp_path / "plugin.json").write_text(
        json.dumps({"name": "x", "version": "1.0.0", "description": "d", "author": {"name": "a"}})
    )
    out = run(str(tmp_path / "plugin.json"))
    assert out.returncode == 1
    assert "$: the manifest must be at <plugin root>/.claude-plugin/plugin.json" in out.stderr


@pytest.mark.timeout(60)
def test_no_manifest_or_an_unreadable_one_is_exit_2(tmp_path):
    out = run(cwd=tmp_path)
    assert out.returncode == 2
    assert f"no .claude-plugin/plugin.json in {tmp_path} or any parent directory" in out.stderr
    out = run(str(tmp_path / "missing.json"))
    assert out.returncode == 2 and "cannot read" in out.stderr and "No such file" in out.stderr
    (tmp_path / ".claude-plugin" / "plugin.json").mkdir(parents=True)  # a directory, not a file
    out = run(str(tmp_path))
    assert out.returncode == 2 and "cannot read" in out.stderr


@pytest.mark.timeout(60)
def test_verify_plugin_is_listed_in_help():
    out = run_cli("--help", timeout=60)
    assert "verify-plugin" in out.stdout


# -- the front matter reader -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("---\nname: a\ndescription: b c\n---\nbody", {"name": "a", "description": "b c"}),
        ("---\nname: \"a\"\ndescription: 'b: c'\n---\n", {"name": "a", "description": "b: c"}),
        ("---\ndescription: >\n  one\n  two\nname: a\n---\n", {"description": "one two", "name": "a"}),
        ("---\ndescription: |\n  one\n  two\n---\n", {"description": "one\ntwo"}),
        ("---\nname: a # comment\nallowed-tools:\n  - Bash\n---\n", {"name": "a", "allowed-tools": ""}),
        ("\ufeff---\nname: a\n---\n", {"name": "a"}),
        ("# no front matter\n", None),
        ("---\nname: a\n", None),
        ("", None),
    ],
)
def test_front_matter(text, expected):
    assert front_matter(text) == expected

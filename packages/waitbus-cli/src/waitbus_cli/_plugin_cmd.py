"""`waitbus verify-plugin [PATH]`: check a Claude Code plugin manifest and what it points at.

The manifest is `<plugin root>/.claude-plugin/plugin.json`. The checks follow Claude Code's
plugin layout: JSON that parses into an object; `name`, `version`, `description` and
`author` present and well typed (Claude Code itself needs only `name`; a published plugin
needs the rest); a kebab-case name; a semantic version; component paths relative to the
plugin root (`./...`, no `..`) that exist; every skill a `<dir>/SKILL.md` whose front matter
has a valid `name` and a `description`; every command a `.md` file whose front matter has a
`description`; every MCP server a `command` (stdio) that is installed (an absolute path, or
a name found on PATH, as Claude Code will start it) or a `url` (http/sse). Each problem is
printed with its JSON path (`$.mcpServers.waitbus.command`).
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from . import _exit
from ._errors import CliError

MANIFEST = Path(".claude-plugin") / "plugin.json"
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")  # Claude Code's plugin name rule
SKILL_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
SKILL_NAME_MAX, SKILL_DESCRIPTION_MAX = 64, 1024
# semver.org's own pattern (2.0.0)
SEMVER_RE = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
REQUIRED = ("name", "version", "description", "author")
PATH_LISTS = ("commands", "agents", "skills", "outputStyles")  # a path or a list of paths
PATH_OR_OBJECT = ("hooks", "mcpServers", "lspServers")  # a path to a JSON file, or inline
STRINGS = ("homepage", "license")
KNOWN = {*REQUIRED, *PATH_LISTS, *PATH_OR_OBJECT, *STRINGS, "repository", "keywords"}


class Unreadable(CliError):
    """The manifest cannot be read at all (exit 2)."""


@dataclass
class Report:
    manifest: Path
    root: Path
    problems: list[tuple[str, str]] = field(default_factory=list)  # (JSON path, message)
    warnings: list[tuple[str, str]] = field(default_factory=list)
    skills: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    mcp_servers: list[str] = field(default_factory=list)
    mcp_commands: dict[str, str] = field(default_factory=dict)  # server -> the executable it starts
    name: str | None = None
    version: str | None = None

    def problem(self, where: str, message: str) -> None:
        self.problems.append((where, message))

    def rel(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.root))
        except ValueError:
            return str(path)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "an array"}.get(
        type(value), "an object" if isinstance(value, dict) else type(value).__name__
    )


def find_manifest(start: Path) -> Path | None:
    """`.claude-plugin/plugin.json` in `start` or the nearest parent that has one."""
    for directory in (start, *start.parents):
        candidate = directory / MANIFEST
        if candidate.is_file():
            return candidate
    return None


def resolve_target(path: Path | None) -> Path:
    """The manifest file a PATH argument names: the file itself, a plugin root, or the
    `.claude-plugin` directory; with no PATH, the nearest one from the CWD upwards."""
    if path is None:
        found = find_manifest(Path.cwd())
        if found is None:
            raise Unreadable(f"no {MANIFEST} in {Path.cwd()} or any parent directory; pass the plugin's PATH")
        return found
    if path.is_dir():
        return path / "plugin.json" if path.name == ".claude-plugin" else path / MANIFEST
    return path


# -- front matter ---------------------------------------------------------------------------


def front_matter(text: str) -> dict[str, str] | None:
    """The top-level `key: value` pairs of a Markdown file's YAML front matter (enough for
    name/description: plain, quoted and folded `>` / literal `|` scalars), or None if the
    file has none."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return None
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        return None
    out: dict[str, str] = {}
    key: str | None = None
    block: list[str] = []
    style = ""

    def close() -> None:
        if key is not None and style:
            joiner = "\n" if style == "|" else " "
            out[key] = joiner.join(line.strip() for line in block if line.strip()).strip()

    for line in lines[1:end]:
        if key is not None and style and (line.startswith((" ", "\t")) or not line.strip()):
            block.append(line)
            continue
        close()
        key, block, style = None, [], ""
        m = re.match(r"^([A-Za-z0-9_-]+):(.*)$", line)
        if not m:
            continue  # a nested line, a comment or a list item: not a top-level scalar
        key, value = m.group(1), m.group(2).strip()
        if value[:1] in (">", "|"):
            style = value[:1]
            continue
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        out[key] = value
    close()
    return out


# -- checks ---------------------------------------------------------------------------------


def _component_path(report: Report, where: str, value: Any) -> Path | None:
    """A manifest path: a string starting with ./, no .., forward slashes, that exists."""
    if not isinstance(value, str):
        report.problem(where, f"must be a path string; got {_type_name(value)}")
        return None
    if not value.startswith("./"):
        report.problem(where, f"paths are relative to the plugin root and start with ./; got {value!r}")
        return None
    if "\\" in value or ".." in Path(value).parts:
        report.problem(where, f"use forward slashes and no '..' (stay inside the plugin root); got {value!r}")
        return None
    target = report.root / value
    if not target.exists():
        report.problem(where, f"{value} does not exist (looked for {target})")
        return None
    return target


def _paths(report: Report, key: str, value: Any) -> list[tuple[str, Path]]:
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        report.problem(f"$.{key}", "is an empty array")
    found = []
    for i, item in enumerate(items):
        where = f"$.{key}[{i}]" if isinstance(value, list) else f"$.{key}"
        target = _component_path(report, where, item)
        if target is not None:
            found.append((where, target))
    return found


def _read_front_matter(report: Report, where: str, md: Path) -> tuple[str, dict[str, str] | None] | None:
    """(the label its problems go under, its front matter) of a component's Markdown
    file; None, with the problem reported, when it cannot be read."""
    label = f"{where} ({report.rel(md)})"
    try:
        return label, front_matter(md.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        report.problem(label, f"cannot read: {exc}")
        return None


def _check_skill(report: Report, where: str, skill_md: Path) -> None:
    read = _read_front_matter(report, where, skill_md)
    if read is None:
        return
    label, meta = read
    if meta is None:
        report.problem(label, "no YAML front matter (a --- block with name: and description:)")
        return
    name, description = meta.get("name", ""), meta.get("description", "")
    if not name:
        report.problem(label, "front matter has no name:")
    elif not SKILL_NAME_RE.match(name) or len(name) > SKILL_NAME_MAX:
        report.problem(
            label, f"front matter name {name!r}: lowercase letters, digits and single hyphens, at most 64 chars"
        )
    elif name != skill_md.parent.name:
        report.problem(label, f"front matter name {name!r} differs from its directory {skill_md.parent.name!r}")
    if not description:
        report.problem(label, "front matter has no description: (it tells the agent when to use the skill)")
    elif len(description) > SKILL_DESCRIPTION_MAX:
        report.problem(label, f"front matter description is {len(description)} chars; at most 1024")
    if name:
        report.skills.append(name)


def _check_skills(report: Report, value: Any) -> None:
    for where, target in _paths(report, "skills", value):
        if not target.is_dir():
            report.problem(where, f"{report.rel(target)} is not a directory of skills")
            continue
        if (target / "SKILL.md").is_file():  # the path is one skill
            _check_skill(report, where, target / "SKILL.md")
            continue
        skill_files = sorted(d / "SKILL.md" for d in target.iterdir() if (d / "SKILL.md").is_file())
        if not skill_files:
            report.problem(where, f"no <name>/SKILL.md under {report.rel(target)}")
        for skill_md in skill_files:
            _check_skill(report, where, skill_md)


def _check_command(report: Report, where: str, md: Path) -> None:
    read = _read_front_matter(report, where, md)
    if read is None:
        return
    label, meta = read
    if meta is None or not meta.get("description"):
        report.problem(label, "no description: line in its front matter (shown in the / menu)")
    report.commands.append(md.stem)


def _check_commands(report: Report, value: Any) -> None:
    for where, target in _paths(report, "commands", value):
        if target.is_file():
            if target.suffix != ".md":
                report.problem(where, f"{report.rel(target)} is not a .md command file")
            else:
                _check_command(report, where, target)
            continue
        files = sorted(target.rglob("*.md"))
        if not files:
            report.problem(where, f"no .md command files under {report.rel(target)}")
        for md in files:
            _check_command(report, where, md)


def _check_mcp_servers(report: Report, value: Any) -> None:
    where = "$.mcpServers"
    if isinstance(value, str):
        target = _component_path(report, where, value)
        if target is None:
            return
        try:
            value = json.loads(target.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            report.problem(where, f"{value} is not readable JSON: {exc}")
            return
        if isinstance(value, dict) and isinstance(value.get("mcpServers"), dict):
            value = value["mcpServers"]
    if not isinstance(value, dict):
        report.problem(where, f"must be an object of servers or a path to a JSON file; got {_type_name(value)}")
        return
    if not value:
        report.problem(where, "names no server")
    for name, server in value.items():
        at = f"{where}.{name}"
        if not isinstance(server, dict):
            report.problem(at, f"must be an object; got {_type_name(server)}")
            continue
        report.mcp_servers.append(name)
        if server.get("type") in ("http", "sse"):
            if not isinstance(server.get("url"), str) or not server["url"]:
                report.problem(f"{at}.url", f"a {server['type']} server needs a url string")
            continue
        command = server.get("command")
        if not isinstance(command, str) or not command.strip():
            got = "missing" if command is None else f"got {_type_name(command)} {command!r}"
            report.problem(f"{at}.command", f"a stdio server needs a non-empty command string; {got}")
        else:
            _check_command_installed(report, f"{at}.command", name, command)
        args = server.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            report.problem(f"{at}.args", "must be an array of strings")
        env = server.get("env", {})
        if not isinstance(env, dict) or not all(isinstance(v, str) for v in env.values()):
            report.problem(f"{at}.env", "must be an object of string values")


def _check_command_installed(report: Report, where: str, server: str, command: str) -> None:
    """The executable Claude Code will start: an absolute path, or a name on PATH."""
    found = shutil.which(command)
    if found is None:
        hint = (
            "install the waitbus stack (README, Install: `uv tool install ... dist/waitbus-<version>-*.whl`)"
            if command == "waitbus-mcp"
            else "install it, or name its absolute path"
        )
        report.problem(where, f"{command!r} is not an executable on PATH: {hint}")
        return
    report.mcp_commands[server] = str(Path(found).absolute())


def _shaped(report: Report, key: str, value: Any, pattern: re.Pattern[str], rule: str) -> str | None:
    """`value` when it is a string `pattern` matches; else None, with the problem reported."""
    if not isinstance(value, str):
        report.problem(f"$.{key}", f"must be a string; got {_type_name(value)}")
    elif not pattern.match(value):
        report.problem(f"$.{key}", f"{rule}; got {value!r}")
    else:
        return value
    return None


def check_manifest(data: Any, report: Report) -> None:
    if not isinstance(data, dict):
        report.problem("$", f"the manifest must be a JSON object; got {_type_name(data)}")
        return
    if report.manifest.parent.name != ".claude-plugin":
        report.problem("$", f"the manifest must be at <plugin root>/{MANIFEST}; found at {report.manifest}")
    for key in REQUIRED:
        if key not in data:
            report.problem(f"$.{key}", "is required")
    if "name" in data:
        kebab = "must be kebab-case (lowercase letters, digits, single hyphens)"
        report.name = _shaped(report, "name", data["name"], NAME_RE, kebab)
    if "version" in data:
        semver = "must be a semantic version MAJOR.MINOR.PATCH"
        report.version = _shaped(report, "version", data["version"], SEMVER_RE, semver)
    if "description" in data:
        description = data["description"]
        if not isinstance(description, str) or not description.strip():
            report.problem("$.description", f"must be a non-empty string; got {_type_name(description)}")
    if "author" in data:
        author = data["author"]
        if isinstance(author, dict):
            if not isinstance(author.get("name"), str) or not author["name"].strip():
                report.problem("$.author.name", "is required: a non-empty string")
            for key in ("email", "url"):
                if key in author and not isinstance(author[key], str):
                    report.problem(f"$.author.{key}", f"must be a string; got {_type_name(author[key])}")
        else:  # Claude Code 2.x refuses the npm-style "Name <email>" string
            report.problem("$.author", f"must be an object with a name; got {_type_name(author)}")
    for key in STRINGS:
        if key in data and not isinstance(data[key], str):
            report.problem(f"$.{key}", f"must be a string; got {_type_name(data[key])}")
    if "repository" in data and not isinstance(data["repository"], str | dict):
        report.problem("$.repository", f"must be a string or an object; got {_type_name(data['repository'])}")
    if "keywords" in data:
        keywords = data["keywords"]
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            report.problem("$.keywords", "must be an array of strings")
    if "skills" in data:
        _check_skills(report, data["skills"])
    if "commands" in data:
        _check_commands(report, data["commands"])
    for key in ("agents", "outputStyles"):
        if key in data:
            _paths(report, key, data[key])
    if "mcpServers" in data:
        _check_mcp_servers(report, data["mcpServers"])
    for key in ("hooks", "lspServers"):
        if key in data:
            if isinstance(data[key], str):
                _component_path(report, f"$.{key}", data[key])
            elif not isinstance(data[key], dict):
                report.problem(f"$.{key}", f"must be a path or an object; got {_type_name(data[key])}")
    for key in sorted(set(data) - KNOWN):
        report.warnings.append((f"$.{key}", "not a key this checker knows; Claude Code may reject or ignore it"))


def verify(manifest: Path) -> Report:
    """Check one manifest. Raises Unreadable if the file cannot be read."""
    try:
        raw = manifest.read_bytes()
    except OSError as exc:
        raise Unreadable(f"cannot read {manifest}: {exc.strerror or exc}") from exc
    root = manifest.parent.parent if manifest.parent.name == ".claude-plugin" else manifest.parent
    report = Report(manifest=manifest, root=root)
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        report.problem("$", f"not UTF-8: {exc}")
        return report
    except json.JSONDecodeError as exc:
        report.problem("$", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")
        return report
    check_manifest(data, report)
    return report


def run(path: Path | None, as_json: bool) -> int:
    try:
        manifest = resolve_target(path)
        report = verify(manifest)
    except Unreadable as exc:
        print(f"waitbus verify-plugin: {exc}", file=sys.stderr)
        return _exit.USAGE
    if as_json:
        doc = {
            "manifest": str(report.manifest),
            "ok": not report.problems,
            "name": report.name,
            "version": report.version,
            "skills": report.skills,
            "commands": report.commands,
            "mcp_servers": report.mcp_servers,
            "mcp_commands": report.mcp_commands,
            "problems": [{"path": p, "message": m} for p, m in report.problems],
            "warnings": [{"path": p, "message": m} for p, m in report.warnings],
        }
        print(json.dumps(doc, indent=2))
    else:
        for where, message in report.warnings:
            print(f"warning: {where}: {message}", file=sys.stderr)
        for where, message in report.problems:
            print(f"{report.manifest}: {where}: {message}", file=sys.stderr)
        if report.problems:
            n = len(report.problems)
            print(f"{report.manifest}: {n} problem{'s' if n != 1 else ''}", file=sys.stderr)
        else:
            print(
                f"{report.manifest}: ok: plugin {report.name} {report.version}; "
                f"skills: {', '.join(report.skills) or 'none'}; "
                f"commands: {', '.join(report.commands) or 'none'}; "
                f"MCP servers: {', '.join(report.mcp_servers) or 'none'}"
            )
    return _exit.FAILED if report.problems else _exit.OK


def register(app: typer.Typer) -> None:
    @app.command("verify-plugin")
    def verify_plugin_cmd(
        path: Annotated[
            Path | None,
            typer.Argument(
                help="plugin.json, the plugin root, or its .claude-plugin dir "
                "(default: the nearest .claude-plugin/plugin.json from the current directory up)."
            ),
        ] = None,
        json: Annotated[bool, typer.Option("--json", help="Print {ok, problems, warnings, ...} as JSON.")] = False,
    ) -> None:
        """Validate a Claude Code plugin manifest (.claude-plugin/plugin.json) and the skills,
        commands and MCP servers it names. Each problem is printed with its JSON path.

        \b
        Example: waitbus verify-plugin                 # the repo's own plugin, from anywhere inside it
        Example: waitbus verify-plugin ./my-plugin     # a plugin root (or its plugin.json)

        Exit codes: 0 valid, 1 problems (listed on stderr), 2 no manifest found or it cannot be read.
        """
        raise typer.Exit(run(path, json))

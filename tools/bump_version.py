"""Bump (or check) the one version shared by every waitbus distribution.

    python tools/bump_version.py 0.2.0          # rewrite every version and internal pin
    python tools/bump_version.py --check        # exit 1 and list disagreements, else 0
    python tools/bump_version.py --check 0.2.0  # ... and require that exact version
    python tools/bump_version.py --root DIR ... # operate on another checkout (or a copy)

The files are the root pyproject.toml (if present) and every packages/*/pyproject.toml.
Each ``[project] version = "..."`` line is rewritten, and so is every exact pin
(``name==X``) of an *internal* distribution (any ``[project] name`` found under
packages/) in ``[project] dependencies``, ``[project.optional-dependencies]`` and
``[dependency-groups]``. Files are read with tomllib but rewritten as text, so comments
and layout survive; each rewrite is re-parsed and compared with the expected result
before it replaces the file atomically. Versions must be canonical PEP 440 public
versions (what PyPI publishes and what pip prints back).

Exit status: 0 success, 1 disagreements found (--check) or a file could not be rewritten
safely, 2 usage error or invalid version.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import stat
import sys
import tempfile
import tomllib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# PEP 440, appendix B: the canonical form of a public version identifier.
_CANONICAL = re.compile(
    r"([1-9][0-9]*!)?(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*((a|b|rc)(0|[1-9][0-9]*))?"
    r"(\.post(0|[1-9][0-9]*))?(\.dev(0|[1-9][0-9]*))?"
)
_REQ_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(?:\[[^\]]*\])?\s*")
_EXACT_PIN = re.compile(r"\(?\s*==\s*([A-Za-z0-9!+._-]+)\s*\)?\s*")
_TABLE_HEADER = re.compile(r"\s*\[\[?\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?")
_VERSION_LINE = re.compile(r"""(\s*version\s*=\s*)(["'])([^"'\\\n]*)\2""")


class BumpError(Exception):
    """A file cannot be read or rewritten safely."""


def normalize(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def version_problem(version: str) -> str | None:
    """None if ``version`` is a canonical PEP 440 public version, else why not."""
    if _CANONICAL.fullmatch(version):
        return None
    try:
        from packaging.version import InvalidVersion, Version
    except ImportError:  # the tool runs without packaging too; it only sharpens the message
        return f"{version!r} is not a canonical PEP 440 public version"
    try:
        parsed = Version(version)
    except InvalidVersion:
        return f"{version!r} is not a valid PEP 440 version"
    return f"{version!r} is not a canonical PEP 440 public version (did you mean {parsed.public}?)"


@dataclass(frozen=True)
class Pin:
    """One requirement on an internal distribution, as written in a pyproject.toml."""

    name: str  # normalised
    text: str  # the whole requirement string
    version: str | None  # the pinned version if it is an exact ``==`` pin, else None
    start: int = 0  # where that version sits inside ``text``
    end: int = 0

    def repinned(self, new: str) -> str:
        assert self.version is not None
        return self.text[: self.start] + new + self.text[self.end :]


def parse_pin(requirement: str, internal: set[str]) -> Pin | None:
    """The Pin for ``requirement`` if it names an internal distribution, else None."""
    named = _REQ_NAME.match(requirement)
    if named is None or normalize(named.group(1)) not in internal:
        return None
    name = normalize(named.group(1))
    spec_end = requirement.find(";", named.end())
    exact = _EXACT_PIN.fullmatch(requirement, named.end(), len(requirement) if spec_end < 0 else spec_end)
    if exact is None:
        return Pin(name, requirement, None)
    return Pin(name, requirement, exact.group(1), exact.start(1), exact.end(1))


def _requirement_lists(data: dict[str, Any]) -> Iterator[list[Any]]:
    project = data.get("project", {})
    yield project.get("dependencies", [])
    yield from project.get("optional-dependencies", {}).values()
    yield from data.get("dependency-groups", {}).values()


@dataclass
class Project:
    """One pyproject.toml: its text, its parsed form and where it lives."""

    path: Path
    label: str  # path relative to the root, for messages
    text: str
    data: dict[str, Any]

    @property
    def name(self) -> str:
        return str(self.data.get("project", {}).get("name", ""))

    @property
    def version(self) -> str | None:
        value = self.data.get("project", {}).get("version")
        return value if isinstance(value, str) else None

    def pins(self, internal: set[str]) -> list[Pin]:
        found = []
        for requirements in _requirement_lists(self.data):
            for item in requirements:
                if isinstance(item, str) and (pin := parse_pin(item, internal)) is not None:
                    found.append(pin)
        return found


def load_projects(root: Path) -> tuple[list[Project], set[str]]:
    """Every pyproject.toml the tool manages, and the normalised internal distribution names."""
    paths = sorted((root / "packages").glob("*/pyproject.toml"))
    if not paths:
        raise FileNotFoundError(f"no packages/*/pyproject.toml under {root}")
    if (root / "pyproject.toml").is_file():
        paths.insert(0, root / "pyproject.toml")
    projects = []
    for path in paths:
        text = path.read_bytes().decode("utf-8")
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BumpError(f"{path}: {exc}") from exc
        projects.append(Project(path, path.relative_to(root).as_posix(), text, data))
    internal = {normalize(p.name) for p in projects if p.path.parent.parent == root / "packages" and p.name}
    return projects, internal


def _rewrite_version_line(project: Project, new: str) -> str:
    old = project.version
    if old is None:
        raise BumpError(f"{project.label}: no static [project] version (dynamic versions are not supported)")
    lines = project.text.splitlines(keepends=True)
    table, hits = "", 0
    for i, line in enumerate(lines):
        header = _TABLE_HEADER.fullmatch(line.rstrip("\r\n"))
        if header is not None:
            table = header.group(1).replace(" ", "")
            continue
        found = _VERSION_LINE.match(line)
        if table == "project" and found is not None and found.group(3) == old:
            lines[i] = line[: found.start(3)] + new + line[found.end(3) :]
            hits += 1
    if hits != 1:
        raise BumpError(f'{project.label}: expected one `version = "{old}"` line in [project], found {hits}')
    return "".join(lines)


def _quoted(requirement: str, quote: str) -> str:
    """``requirement`` as a TOML basic (``"``) or literal (``'``) one-line string."""
    if quote == "'":
        return f"'{requirement}'"
    return '"' + requirement.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _expected(data: dict[str, Any], version: str, rewrite: Callable[[str], str]) -> dict[str, Any]:
    expected = copy.deepcopy(data)
    expected["project"]["version"] = version
    for requirements in _requirement_lists(expected):
        for i, item in enumerate(requirements):
            if isinstance(item, str):
                requirements[i] = rewrite(item)
    return expected


def plan_bump(project: Project, internal: set[str], new: str) -> tuple[str, list[str], list[str]]:
    """(new text, changes made, warnings) for one file; raises BumpError if unsafe."""
    changes: list[str] = []
    warnings: list[str] = []
    text = project.text
    if project.version != new:
        text = _rewrite_version_line(project, new)
        changes.append(f"version {project.version} -> {new}")
    rewritten: dict[str, str] = {}
    for pin in project.pins(internal):
        if pin.version is None:
            warnings.append(f"{project.label}: {pin.text!r} is not an exact pin; left alone")
        elif pin.version != new and pin.text not in rewritten:
            rewritten[pin.text] = pin.repinned(new)
    for old_req, new_req in rewritten.items():
        quotes = [q for q in "\"'" if _quoted(old_req, q) in text and (q == '"' or "'" not in old_req)]
        if not quotes:
            raise BumpError(f"{project.label}: cannot find the literal for {old_req!r}; edit it by hand")
        for quote in quotes:
            text = text.replace(_quoted(old_req, quote), _quoted(new_req, quote))
        changes.append(f"{old_req} -> {new_req}")
    if text != project.text:
        try:
            reparsed = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise BumpError(f"{project.label}: rewrite would not parse ({exc}); file left alone") from exc
        if reparsed != _expected(project.data, new, lambda req: rewritten.get(req, req)):
            raise BumpError(f"{project.label}: rewrite changed more than versions and pins; file left alone")
    return text, changes, warnings


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in one rename, keeping its permission bits."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(path.stat().st_mode))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def bump(projects: list[Project], internal: set[str], new: str) -> int:
    """Rewrite every file to ``new``: all files are planned (and verified) before any is written."""
    plans = []
    for project in projects:
        text, changes, warnings = plan_bump(project, internal, new)
        plans.append((project, text, changes))
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
    changed = 0
    for project, text, changes in plans:
        if text != project.text:
            write_atomic(project.path, text)
            changed += 1
            for change in changes:
                print(f"{project.label}: {change}")
    print(f"{changed} file(s) changed; version is {new}" if changed else f"nothing to change: already at {new}")
    return 0


def disagreements(projects: list[Project], internal: set[str], expected: str | None) -> tuple[str | None, list[str]]:
    """(the common version, every way a file departs from it)."""
    versions = Counter(p.version for p in projects if p.version is not None)
    common = expected or (versions.most_common(1)[0][0] if versions else None)
    problems = []
    for project in projects:
        if project.version != common:
            problems.append(f"{project.label}: version {project.version} (expected {common})")
        for pin in project.pins(internal):
            if pin.version is None:
                problems.append(f"{project.label}: {pin.text!r} is not an exact pin (expected =={common})")
            elif pin.version != common:
                problems.append(f"{project.label}: {pin.text!r} pins {pin.version} (expected =={common})")
    return common, problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    parser.add_argument("version", nargs="?", help="the new version (with --check: the version to require)")
    parser.add_argument("--check", action="store_true", help="report disagreements instead of rewriting")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(__file__).resolve().parent.parent,
        help="repository root holding packages/ (default: this checkout)",
    )
    args = parser.parse_args(argv)
    if args.version is None and not args.check:
        parser.error("give the new version, or --check")
    if args.version is not None and (problem := version_problem(args.version)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    root: Path = args.root
    try:
        projects, internal = load_projects(root)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BumpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.check:
        common, problems = disagreements(projects, internal, args.version)
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} disagreement(s) with version {common}")
            return 1
        print(f"{len(projects)} pyproject.toml file(s) agree on version {common}")
        return 0
    try:
        return bump(projects, internal, args.version)
    except BumpError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

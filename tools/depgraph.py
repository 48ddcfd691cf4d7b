"""Draw docs/architecture.md's dependency picture from the code.

Every `import waitbus...` under packages/*/src is read with ast (wherever it sits,
functions and TYPE_CHECKING blocks included) and mapped to the distribution that
provides that top-level module. The picture goes between the markers
`<!-- depgraph:begin -->` and `<!-- depgraph:end -->` of docs/architecture.md.

    python tools/depgraph.py           # rewrite the picture
    python tools/depgraph.py --check   # exit 1 if the doc is stale (tests/repo runs this)
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
BEGIN, END = "<!-- depgraph:begin -->", "<!-- depgraph:end -->"


def _modules() -> dict[str, str]:
    """top-level import name -> distribution (the folder under packages/)."""
    found: dict[str, str] = {}
    for src in sorted(REPO.glob("packages/*/src")):
        for module in src.iterdir():
            if (module / "__init__.py").exists():
                found[module.name] = src.parent.name
    return found


def edges() -> dict[str, set[str]]:
    """distribution -> the other distributions its code imports."""
    modules = _modules()
    out: dict[str, set[str]] = {dist: set() for dist in modules.values()}
    for module, dist in modules.items():
        for file in sorted((REPO / "packages" / dist / "src" / module).rglob("*.py")):
            for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    used = modules.get(name.split(".")[0])
                    if used is not None and used != dist:
                        out[dist].add(used)
    return out


def layers(graph: dict[str, set[str]]) -> dict[str, int]:
    """Each distribution's height: 0 for one that uses none of ours, else one more than
    the highest it uses. An import cycle raises (the picture could not be drawn)."""
    height: dict[str, int] = {}

    def visit(dist: str, path: tuple[str, ...]) -> int:
        if dist in path:
            raise SystemExit(f"import cycle between distributions: {' -> '.join((*path, dist))}")
        if dist not in height:
            height[dist] = 1 + max((visit(d, (*path, dist)) for d in graph[dist]), default=-1)
        return height[dist]

    for dist in graph:
        visit(dist, ())
    return height


def picture() -> str:
    graph = edges()
    height = layers(graph)
    width = max(len(d) for d in graph)
    lines = ["```text", "layer  distribution" + " " * (width - 12) + "  imports (drawn by tools/depgraph.py)"]
    for dist in sorted(graph, key=lambda d: (height[d], d)):
        uses = ", ".join(sorted(graph[dist], key=lambda d: (height[d], d))) or "-"
        lines.append(f"{height[dist]:>5}  {dist:<{width}}  {uses}")
    lines.append("```")
    return "\n".join(lines)


def render(doc: str) -> str:
    head, sep, rest = doc.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise SystemExit(f"{DOC} has no {BEGIN} ... {END} block")
    return f"{head}{BEGIN}\n{picture()}\n{END}{tail}"


def main(argv: list[str]) -> int:
    doc = DOC.read_text(encoding="utf-8")
    new = render(doc)
    if "--check" in argv:
        if new != doc:
            print(f"{DOC} is stale: run python tools/depgraph.py", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

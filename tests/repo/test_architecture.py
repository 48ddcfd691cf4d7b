"""docs/architecture.md's dependency picture is the code's: tools/depgraph.py draws it
from every `import waitbus...` under packages/*/src, and this fails when it is stale."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def depgraph() -> ModuleType:
    spec = importlib.util.spec_from_file_location("depgraph", REPO / "tools" / "depgraph.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("depgraph", module)
    spec.loader.exec_module(module)
    return module


def test_the_architecture_picture_is_drawn_from_the_code() -> None:
    assert depgraph().main(["--check"]) == 0, "docs/architecture.md is stale: run python tools/depgraph.py"


def test_the_picture_names_every_distribution_and_only_downward_edges() -> None:
    tool = depgraph()
    graph = tool.edges()
    height = tool.layers(graph)
    assert {"waitbus-wire", "waitbus-store", "waitbus-sdk", "waitbus-cli"} <= set(graph)
    assert height["waitbus-wire"] == 0 and graph["waitbus-wire"] == set()
    assert all(height[used] < height[dist] for dist, uses in graph.items() for used in uses)
    assert "waitbus-sdk" not in graph["waitbus-hub"]  # the hub needs only wire and store


def test_a_stale_picture_is_caught() -> None:
    tool = depgraph()
    doc = tool.DOC.read_text(encoding="utf-8")
    stale = doc.replace("waitbus-store                 waitbus-wire", "waitbus-store                 -", 1)
    assert stale != doc and tool.render(stale) == doc

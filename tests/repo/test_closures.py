"""What each agent-side distribution pulls in, read from the declared dependencies.

A CI image installs one source package, an MCP client runs waitbus-mcp through uvx:
neither may drag in the daemon stack. (test_packaging.py checks the SDK's closure by
really installing it; sources-pytest is checked the same way in integration/sources.)
"""

from __future__ import annotations

import re
from typing import Any

import pytest

DAEMON_STACK = {"waitbus-hub", "waitbus-cli", "typer", "pydantic", "pydantic-settings", "prometheus-client"}
SOURCES = [
    "waitbus-sources-alertmanager",
    "waitbus-sources-docker",
    "waitbus-sources-fs",
    "waitbus-sources-github",
    "waitbus-sources-pytest",
]
AGENT_SIDE = ["waitbus-sdk", "waitbus-mcp", "waitbus-bridge-nats", "waitbus-web", *SOURCES]


def _requirement_name(req: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[\s;\[<>=!~]", req, maxsplit=1)[0]).lower()


def internal_closure(pkg: Any, by_name: dict[str, Any]) -> set[str]:
    """Every distribution `pkg` needs, following internal packages' own declarations
    (third-party ones are listed but not expanded: none of them is in DAEMON_STACK's
    dependency trees that we could pull in by accident through ours)."""
    seen: set[str] = set()
    todo = [pkg]
    while todo:
        current = todo.pop()
        for req in current.dependencies:
            name = _requirement_name(req)
            if name not in seen:
                seen.add(name)
                if name in by_name:
                    todo.append(by_name[name])
    return seen


def test_every_source_distribution_is_checked(packages: Any) -> None:
    assert sorted(p.dist for p in packages if p.dist.startswith("waitbus-sources-")) == SOURCES


@pytest.mark.parametrize("dist", AGENT_SIDE)
def test_agent_side_distributions_never_need_the_daemon_stack(dist: str, packages: Any) -> None:
    by_name = {p.dist: p for p in packages}
    closure = internal_closure(by_name[dist], by_name)
    assert "waitbus-sdk" in closure or dist == "waitbus-sdk"
    assert not closure & DAEMON_STACK, f"{dist} pulls in {sorted(closure & DAEMON_STACK)}"

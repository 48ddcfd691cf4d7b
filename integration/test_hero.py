"""`make hero` (examples/agents/hero.sh): the two-framework agent demo beside a live
`waitbus top`, in a detached tmux session of its own, offline; and docs/hero.cast, its
asciinema recording, which the README links."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
MISSING = [name for name in ("pydantic_ai", "langgraph") if importlib.util.find_spec(name) is None]


@pytest.mark.timeout(240)
@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed: run tools/peers/tmux.sh")
@pytest.mark.skipif(bool(MISSING), reason="the example agents need: pip install -r examples/agents/requirements.txt")
def test_hero_runs_the_demo_beside_a_live_top():
    env = {**os.environ, "HERO_DETACH": "1", "PYTHON": sys.executable, "HERO_TIMEOUT": "180"}
    out = subprocess.run(
        [str(REPO / "examples" / "agents" / "hero.sh")], capture_output=True, text=True, timeout=230, env=env
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    top, _, demo = out.stdout.partition("=== right pane")
    # The live view saw every step as it happened: the failure, the triage, both agents.
    assert "waitbus top: newest state per entity" in top
    for row in ("test session /home/me/proj", "triage_done", "triage_started", "agent_ready"):
        assert row in top, top
    assert "done: both agents finished their part (exit 0)" in demo.replace("\n", "")


def test_the_recording_is_an_asciicast_of_the_demo_linked_from_the_readme():
    cast = REPO / "docs" / "hero.cast"
    lines = cast.read_text().splitlines()
    header = json.loads(lines[0])
    assert header["version"] == 2 and header["width"] >= 120
    frames = [json.loads(line) for line in lines[1:]]
    assert all(kind == "o" for _, kind, _ in frames)
    shown = "".join(text for _, _, text in frames)
    assert "both agents finished their part" in shown and "waitbus top" in shown
    assert "(docs/hero.cast)" in (REPO / "README.md").read_text()

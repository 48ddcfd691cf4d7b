"""examples/claude-code/waitbus-hook.sh, fed the hook input JSON that Claude Code documents
for its session lifecycle hooks (https://docs.claude.com/en/docs/claude-code/hooks),
stores one event per call in the real log and wakes a real `waitbus wait`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests._support import WAITBUS
from waitbus_store import Store, resolve_paths

REPO = Path(__file__).resolve().parents[1]
HOOK = REPO / "examples" / "claude-code" / "waitbus-hook.sh"
BASE = {"session_id": "9f1c2d3e-4b5a-6789-abcd-ef0123456789", "transcript_path": "/home/me/.claude/t.jsonl",
        "cwd": "/home/me/proj"}  # fmt: skip
INPUTS = [
    {**BASE, "hook_event_name": "SessionStart", "source": "startup"},
    {**BASE, "hook_event_name": "UserPromptSubmit", "prompt": "fix the failing test, token=s3cret"},
    {
        **BASE,
        "hook_event_name": "PostToolUse",
        "tool_name": "Bash",
        "tool_input": {"command": "pytest"},
        "tool_response": {"stdout": "1 failed"},
    },
    {**BASE, "hook_event_name": "Notification", "message": "Claude needs your permission to use Bash"},
    {**BASE, "hook_event_name": "Stop", "stop_hook_active": False},
    {**BASE, "hook_event_name": "SessionEnd", "reason": "logout"},
]


def feed(data: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WAITBUS_PYTHON": sys.executable}
    text = data if isinstance(data, str) else json.dumps(data)
    return subprocess.run([str(HOOK)], input=text, capture_output=True, text=True, timeout=60, env=env, check=False)


def events() -> list[tuple[str, dict[str, object], str]]:
    db = resolve_paths().db
    if not db.exists():
        return []
    with Store(db) as store:
        return [(r.event_type, json.loads(r.fields), r.summary) for r in store.read_after(0, 1000)]


@pytest.mark.timeout(120)
def test_each_lifecycle_hook_becomes_one_event_without_the_prompt_text():
    for data in INPUTS:
        out = feed(data)
        assert out.returncode == 0 and out.stdout == "", out.stderr
    got = events()
    assert [t for t, _, _ in got] == [
        "session_start", "user_prompt_submit", "post_tool_use", "notification", "stop", "session_end"
    ]  # fmt: skip
    by_type = {t: (f, s) for t, f, s in got}
    assert by_type["session_start"][0]["hook_source"] == "startup"
    assert by_type["session_end"][0]["reason"] == "logout"
    assert by_type["session_start"][1] == "claude code session_start session 9f1c2d3e-4b5"
    assert by_type["post_tool_use"][1].startswith("claude code post_tool_use (Bash)")
    prompt = by_type["user_prompt_submit"][0]
    assert prompt["prompt_chars"] == len(INPUTS[1]["prompt"]) and "prompt" not in prompt  # type: ignore[arg-type]
    assert "s3cret" not in json.dumps(got) and "tool_input" not in by_type["post_tool_use"][0]


@pytest.mark.timeout(60)
def test_a_waiting_script_hears_the_session_end(hub, reap, await_subscribers):
    argv = [WAITBUS, "wait", "--source", "claude_code", "--match", 'fields.hook_event_name="Stop"', "--timeout", "30s"]
    waiter = reap(subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    await_subscribers(1)
    assert feed(INPUTS[4]).returncode == 0
    out, err = waiter.communicate(timeout=30)
    assert waiter.returncode == 0, err
    assert "claude_code/stop" in out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("bad", ["not json", "[1, 2]", ""])
def test_input_it_cannot_read_never_fails_the_session(bad):
    out = feed(bad)
    assert out.returncode == 0 and out.stdout == ""
    assert events() == []

"""examples/bash/agent-respond.sh: a shell command answers a Python agent's waitbus.request
over a real hub, following the agent_message contract (docs/agent-messaging.md)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests._support import WAITBUS
from waitbus import emit, request

pytestmark = pytest.mark.skipif(shutil.which("jq") is None, reason="agent-respond.sh needs jq")

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "bash" / "agent-respond.sh"
UPPER = [sys.executable, "-c", "import json, sys; print(json.load(sys.stdin)['ask'].upper())"]


def start(reap, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        ["bash", str(SCRIPT), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "WAITBUS": WAITBUS},
    )
    reap(proc)
    return proc


@pytest.mark.timeout(60)
def test_a_shell_command_answers_a_python_request(hub, reap, await_subscribers):
    proc = start(reap, "shell-agent", "--timeout", "20s", "--", *UPPER)
    await_subscribers(1)
    # Noise it must not answer: a message to someone else, and a reply (not a request) to it.
    emit("agent", "agent_message", fields={"msg_to": "other", "msg_reply_to": None, "msg_body": {"ask": "no"}})
    emit("agent", "agent_message", fields={"msg_to": "shell-agent", "msg_reply_to": "abc", "msg_body": {}})
    reply = request("shell-agent", {"ask": 'hello "quoted" $(world)'}, sender="py-agent", thread="t-1", timeout=20)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert reply is not None
    f = reply.fields
    assert (f["msg_from"], f["msg_to"], f["msg_thread"]) == ("shell-agent", "py-agent", "t-1")
    assert f["msg_body"] == {"output": 'HELLO "QUOTED" $(WORLD)', "exit_code": 0}
    assert isinstance(f["msg_correlation_id"], str) and len(f["msg_correlation_id"]) == 32
    assert "replied to py-agent (exit code of the command: 0)" in err


@pytest.mark.timeout(60)
def test_the_commands_failure_is_reported_in_the_reply(hub, reap, await_subscribers):
    proc = start(reap, "shell-agent", "--timeout", "20s", "--", "sh", "-c", "echo broke; exit 3")
    await_subscribers(1)
    reply = request("shell-agent", {"ask": "x"}, sender="py-agent", timeout=20)
    proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert reply is not None and reply.fields["msg_body"] == {"output": "broke", "exit_code": 3}


@pytest.mark.timeout(60)
def test_no_request_is_124_and_bad_usage_is_2(hub, reap):
    proc = start(reap, "shell-agent", "--timeout", "1s", "--", "cat")
    proc.communicate(timeout=20)
    assert proc.returncode == 124
    proc = start(reap, "shell-agent", "--timeout", "1s")  # no command
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 2 and "agent-respond.sh NAME" in err

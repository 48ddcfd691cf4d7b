"""The product README's Python examples, run verbatim in their own processes."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from waitbus import emit

WAIT_EXAMPLE = textwrap.dedent(
    """
    from waitbus import subscribe, wait_for, EventFrame
    # Block until one matching event arrives (returns the frame, or None on timeout).
    frame: EventFrame | None = wait_for('fields.event_type="pytest_session"',
    source="pytest", timeout=600)
    if frame is not None:
        print(frame.event_type, frame.fields)
    """
)

STREAM_EXAMPLE = textwrap.dedent(
    """
    from waitbus import subscribe, wait_for, EventFrame
    # Or stream every matching event as it lands.
    for frame in subscribe(source="docker"):
        print(frame.event_type, frame.fields, flush=True)
    """
)

RESPONDER = textwrap.dedent(
    """
    from waitbus import request, respond, wait_for
    # responder (agent_b), in its own process
    msg = wait_for(to="agent_b", source="agent", timeout=5.0)
    if msg is not None:
        respond(msg, '{"answer": 42}') # sender defaults to msg's recipient
    """
)

REQUESTER = textwrap.dedent(
    """
    from waitbus import request, respond, wait_for
    # requester (agent_a)
    reply = request("agent_b", '{"ask": "meaning"}', sender="agent_a", timeout=5.0)
    # reply is the answer EventFrame, or None on timeout.
    print(reply.fields["msg_body"] if reply else None)
    """
)


def python(reap, code: str) -> subprocess.Popen[str]:
    return reap(
        subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    )


@pytest.mark.timeout(60)
def test_wait_for_example(hub, reap, await_subscribers):
    proc = python(reap, WAIT_EXAMPLE)
    await_subscribers(1)
    emit("pytest", "pytest_session", fields={"outcome": "passed"})
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.strip() == "pytest_session {'outcome': 'passed', 'source': 'pytest', 'event_type': 'pytest_session'}"


@pytest.mark.timeout(60)
def test_subscribe_example_streams_every_docker_event(hub, reap, await_subscribers):
    proc = python(reap, STREAM_EXAMPLE)
    await_subscribers(1)
    emit("pytest", "pytest_session")  # not docker: not printed
    emit("docker", "docker_container", fields={"action": "start"})
    emit("docker", "docker_container", fields={"action": "die", "exit_code": 1})
    assert proc.stdout is not None
    lines = [proc.stdout.readline().strip() for _ in range(2)]
    assert lines == [
        "docker_container {'action': 'start', 'source': 'docker', 'event_type': 'docker_container'}",
        "docker_container {'action': 'die', 'exit_code': 1, 'source': 'docker', 'event_type': 'docker_container'}",
    ]


@pytest.mark.timeout(60)
def test_request_respond_example(hub, reap, await_subscribers):
    responder = python(reap, RESPONDER)
    await_subscribers(1)
    requester = python(reap, REQUESTER)
    out, err = requester.communicate(timeout=30)
    assert requester.returncode == 0, err
    assert out.strip() == '{"answer": 42}'
    assert responder.wait(30) == 0

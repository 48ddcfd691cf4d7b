"""The two-framework example (examples/agents/): a LangGraph agent and a Pydantic AI agent,
each in its own OS process, coordinate only through one real hub and its log.

The failure is injected (`waitbus emit`, as examples/agents/run_demo.sh does); the
agents' models are deterministic scripts. The assertions read the bus log: the events
each agent emitted, in causal order, linked by id.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests._support import run_cli
from waitbus import emit
from waitbus_store import Row, Store, resolve_paths

MISSING = [name for name in ("pydantic_ai", "langgraph") if importlib.util.find_spec(name) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"example agents need {', '.join(MISSING)}: pip install -r examples/agents/requirements.txt",
)

REPO = Path(__file__).resolve().parents[1]
AGENTS = REPO / "examples" / "agents"
TRIAGE, FIXER = "langgraph-triage", "pydantic-fixer"


def start_agent(reap, script: str, timeout: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, str(AGENTS / script), "--timeout", str(timeout)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reap(proc)
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


def inject_failure() -> str:
    """The failure, through the real CLI, labelled as injected."""
    out = run_cli(
        "emit",
        "pytest",
        "pytest_session",
        'outcome="failed"',
        "failed=2",
        "passed=40",
        'rootdir="/home/me/proj"',
        "injected=true",
        "--summary",
        "[INJECTED] pytest failed: 2 failed, 40 passed",
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def log() -> list[Row]:
    with Store(resolve_paths().db) as store:
        return store.read_after(0, limit=1000)


def fields(row: Row) -> dict[str, Any]:
    import json

    value: dict[str, Any] = json.loads(row.fields)
    return value


def assert_causal_chain(rows: list[Row], failure_id: str) -> dict[str, Row]:
    """After the failure the log holds exactly the agents' reaction, in causal order
    (their agent_ready announcements aside, which may land on either side of it)."""
    ids = [r.event_id for r in rows]
    assert ids == sorted(ids), "the log is in commit order"
    after = [r for r in rows[ids.index(failure_id) + 1 :] if r.event_type != "agent_ready"]
    kinds = [(r.source, r.event_type) for r in after]
    assert kinds == [
        ("agent", "triage_started"),  # LangGraph saw the failure
        ("agent", "agent_message"),  # ... and asked its peer
        ("agent", "agent_message"),  # Pydantic AI replied
        ("agent", "triage_done"),  # LangGraph recorded the reply
    ], kinds
    started, request, reply, done = after
    f_started, f_request, f_reply, f_done = (fields(r) for r in after)

    assert f_started["agent"] == TRIAGE and f_started["framework"] == "langgraph"
    assert f_started["failure_event_id"] == failure_id and f_started["plan"] == "ask_peer"

    assert (f_request["msg_from"], f_request["msg_to"], f_request["msg_reply_to"]) == (TRIAGE, FIXER, None)
    assert f_request["msg_body"]["task"] == "diagnose"
    assert f_request["msg_body"]["failure_event_id"] == failure_id

    assert (f_reply["msg_from"], f_reply["msg_to"]) == (FIXER, TRIAGE)
    assert f_reply["msg_reply_to"] == f_request["msg_correlation_id"], "the reply is correlated to the request"
    assert f_reply["msg_thread"] == f_request["msg_thread"] == f"triage-{failure_id}"
    body = f_reply["msg_body"]
    assert body["framework"] == "pydantic-ai"
    # The fixer read the failure's own fields from the log (not just the request's summary).
    assert body["diagnosis"].startswith("2 failed / 40 passed in /home/me/proj")

    assert f_done["agent"] == TRIAGE and f_done["failure_event_id"] == failure_id
    assert f_done["reply_event_id"] == reply.event_id and f_done["diagnosis"] == body["diagnosis"]
    return {"started": started, "request": request, "reply": reply, "done": done}


@pytest.mark.timeout(90)
def test_failure_wakes_langgraph_which_asks_pydantic_ai_over_the_bus(hub, reap, await_subscribers):
    triage = start_agent(reap, "langgraph_agent.py", 60)
    fixer = start_agent(reap, "pydantic_ai_agent.py", 60)
    # Both are blocked on the hub (one on pytest failures, one on its inbox) before the
    # failure lands: what follows is a live wake-up, not a replay.
    await_subscribers(2)
    started = time.monotonic()
    failure_id = inject_failure()

    rc_t, out_t, err_t = finish(triage)
    rc_f, out_f, err_f = finish(fixer)
    assert (rc_t, rc_f) == (0, 0), (out_t, err_t, out_f, err_f)
    assert time.monotonic() - started < 30
    assert "Traceback" not in err_t + err_f, err_t + err_f

    rows = log()
    chain = assert_causal_chain(rows, failure_id)
    ready = [fields(r)["agent"] for r in rows if r.event_type == "agent_ready"]
    assert sorted(ready) == sorted([FIXER, TRIAGE])
    failure = next(r for r in rows if r.event_id == failure_id)
    assert fields(failure)["injected"] is True and failure.summary.startswith("[INJECTED]")

    # Each agent says what it did, naming the events.
    assert f"saw failure {failure_id}" in out_t
    assert f"emitted agent/triage_started {chain['started'].event_id}" in out_t
    assert f"emitted agent/triage_done {chain['done'].event_id}" in out_t
    assert f"got request {chain['request'].event_id} from {TRIAGE}" in out_f
    assert f"read {failure_id} from the log" in out_f
    assert f"replied {chain['reply'].event_id} to {TRIAGE}" in out_f


@pytest.mark.timeout(90)
def test_a_failure_that_lands_before_the_agents_subscribe_is_replayed(hub, reap):
    triage = start_agent(reap, "langgraph_agent.py", 60)
    fixer = start_agent(reap, "pydantic_ai_agent.py", 60)
    # In-process emit takes about a millisecond; the agents are still importing their
    # frameworks, so neither is subscribed yet. Their waits replay from their start.
    failure_id = emit(
        "pytest",
        "pytest_session",
        fields={"outcome": "failed", "failed": 2, "passed": 40, "rootdir": "/home/me/proj", "injected": True},
        summary="[INJECTED] pytest failed: 2 failed, 40 passed",
    ).event_id

    rc_t, out_t, err_t = finish(triage)
    rc_f, out_f, err_f = finish(fixer)
    assert (rc_t, rc_f) == (0, 0), (out_t, err_t, out_f, err_f)
    rows = log()
    ready = [r.event_id for r in rows if r.event_type == "agent_ready"]
    assert len(ready) == 2 and all(failure_id < r for r in ready), "the failure predates both agents' waits"
    assert_causal_chain(rows, failure_id)


@pytest.mark.timeout(60)
def test_each_agent_exits_1_when_its_wait_times_out(hub, reap):
    # Each agent's 3 s start after its own framework's import, so they need not overlap:
    # their "giving up" lines and the two agent_ready events show that each waited.
    triage = start_agent(reap, "langgraph_agent.py", 3)
    fixer = start_agent(reap, "pydantic_ai_agent.py", 3)
    rc_t, out_t, _ = finish(triage, 30)
    rc_f, out_f, _ = finish(fixer, 30)
    assert rc_t == 1 and "giving up: timed_out: no failed pytest session arrived" in out_t
    assert rc_f == 1 and "giving up: no request answered" in out_f
    assert [(r.source, r.event_type) for r in log()] == [("agent", "agent_ready")] * 2


@pytest.mark.timeout(60)
def test_the_langgraph_agent_waiting_for_its_peer_times_out_with_1(hub, reap):
    # No Pydantic AI agent: the request goes unanswered and the bounded wait ends.
    triage = start_agent(reap, "langgraph_agent.py", 4)
    time.sleep(0.2)
    failure_id = inject_failure()
    rc, out, _ = finish(triage, 30)
    assert rc == 1 and f"giving up: timed_out: no reply from {FIXER}" in out
    after = [r for r in log() if r.event_id > failure_id and r.event_type != "agent_ready"]
    assert [r.event_type for r in after] == ["triage_started", "agent_message"]


@pytest.mark.timeout(120)
def test_run_demo_script_end_to_end(reap):
    """examples/agents/run_demo.sh: its own private hub and bus, both agents, the injection."""
    env = {**os.environ, "PYTHON": sys.executable, "DEMO_TIMEOUT": "60"}
    proc = subprocess.Popen(
        ["bash", str(AGENTS / "run_demo.sh")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,  # reap() kills the whole group (hub, agents) if this hangs
    )
    reap(proc)
    out, err = proc.communicate(timeout=100)
    assert proc.returncode == 0, out + err
    assert "INJECTING a synthetic pytest failure" in out
    assert "both agents are waiting on the bus (2 subscribers" in out
    assert f"[{TRIAGE}] triage complete, exiting 0" in out
    assert f"[{FIXER}] diagnosis sent, exiting 0" in out
    log_part = out.split("the bus log, oldest first", 1)[1]
    order = ["pytest/pytest_session", "agent/triage_started", "agent/agent_message", "agent/triage_done"]
    positions = [log_part.index(k) for k in order]
    assert positions == sorted(positions), log_part
    state_dir = out.split("starting a private hub (state: ", 1)[1].split(")", 1)[0]
    assert not Path(state_dir).exists(), "the demo removes its private bus"
    # The demo's hub is gone too: its process group is empty.
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)


@pytest.mark.timeout(60)
def test_a_failure_with_no_failed_tests_is_recorded_without_asking_the_peer(hub, reap, await_subscribers):
    # The scripted model's other branch: an errored session (0 failed tests) needs no peer.
    triage = start_agent(reap, "langgraph_agent.py", 30)
    await_subscribers(1)
    failure_id = emit("pytest", "pytest_session", fields={"outcome": "failed", "failed": 0, "errors": 1}).event_id
    rc, out, err = finish(triage, 30)
    assert rc == 0, out + err
    after = [r for r in log() if r.event_id > failure_id and r.event_type != "agent_ready"]
    assert [r.event_type for r in after] == ["triage_started", "triage_done"]
    assert fields(after[0])["plan"] == "record_only"
    assert fields(after[1])["reply_event_id"] is None and fields(after[1])["diagnosis"] is None


@pytest.mark.timeout(60)
@pytest.mark.parametrize("script", ["langgraph_agent.py", "pydantic_ai_agent.py"])
def test_no_hub_is_exit_2_with_the_sdk_message(reap, script):
    rc, out, err = finish(start_agent(reap, script, 10), 30)
    assert rc == 2, out + err
    assert "no hub: no hub is listening" in out and "WAITBUS_NO_AUTOSTART" in out

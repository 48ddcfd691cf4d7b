"""A LangGraph agent that watches the bus for a failed pytest session and triages it.

It coordinates with the Pydantic AI agent (pydantic_ai_agent.py, another OS process)
only through the waitbus bus:

    watch      waitbus.wait_for: block (no polling) until a pytest_session with outcome "failed"
    triage     the scripted "LLM" decides what to do; emits agent/triage_started
    ask_peer   waitbus.request: an agent_message to "pydantic-fixer", blocking for its reply
    report     emits agent/triage_done with the peer's diagnosis

The decisions are a deterministic script (no LLM, no network, no keys); the graph, its
state and its routing are real LangGraph. Exit 0 when the triage is done, 1 when a
wait timed out (`--timeout`, default 60 s for the whole run), 2 when no hub is reachable.

    python examples/agents/langgraph_agent.py --timeout 60
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any, TypedDict

import waitbus  # names load on first use: this import is nearly free

START_TIME = time.time()  # before langgraph loads: the waits replay the bus from here

ME = "langgraph-triage"
PEER = "pydantic-fixer"
LOOKBACK_SLACK_S = 2.0  # replay a little before our start too: an event may race our subscribe


def say(text: str) -> None:
    print(f"[{ME}] {text}", flush=True)


def since_start() -> float:
    """Seconds to look back so a wait also sees what landed since this process started."""
    return time.time() - START_TIME + LOOKBACK_SLACK_S


class TriageState(TypedDict, total=False):
    deadline: float  # time.monotonic() by which every wait must be over
    failure: dict[str, Any]  # the failed pytest_session: event_id, summary, fields
    plan: str  # the scripted model's decision
    reply: dict[str, Any]  # the peer's agent_message reply: event_id, body
    outcome: str  # "done" or "timed_out: <what>"


def _left(state: TriageState) -> float:
    return max(0.0, state["deadline"] - time.monotonic())


def watch(state: TriageState) -> TriageState:
    say("waiting on the bus for a failed pytest session (no polling)")
    frame = waitbus.wait_for('fields.outcome="failed"', source="pytest", since=since_start(), timeout=_left(state))
    if frame is None:
        return {"outcome": "timed_out: no failed pytest session arrived"}
    say(f"saw failure {frame.event_id}: {frame.summary}")
    return {"failure": {"event_id": frame.event_id, "summary": frame.summary, "fields": dict(frame.fields)}}


def scripted_model(failure: dict[str, Any]) -> str:
    """The agent's "LLM": a fixed rule. Failed tests get a diagnosis from the peer;
    anything else (an error, an interrupted run) is only recorded."""
    failed = failure["fields"].get("failed")
    return "ask_peer" if isinstance(failed, int) and failed > 0 else "record_only"


def triage(state: TriageState) -> TriageState:
    failure = state["failure"]
    plan = scripted_model(failure)
    sent = waitbus.emit(
        "agent",
        "triage_started",
        fields={"agent": ME, "framework": "langgraph", "failure_event_id": failure["event_id"], "plan": plan},
        summary=f"{ME} triaging {failure['event_id']}: {plan}",
    )
    say(f"emitted agent/triage_started {sent.event_id} (plan: {plan})")
    return {"plan": plan}


def ask_peer(state: TriageState) -> TriageState:
    failure = state["failure"]
    body = {"task": "diagnose", "failure_event_id": failure["event_id"], "summary": failure["summary"]}
    say(f"asking {PEER} for a diagnosis (agent_message request) and waiting for its reply")
    reply = waitbus.request(PEER, body, sender=ME, thread=f"triage-{failure['event_id']}", timeout=_left(state))
    if reply is None:
        return {"outcome": f"timed_out: no reply from {PEER}"}
    say(f"got reply {reply.event_id} from {reply.fields.get('msg_from')}")
    return {"reply": {"event_id": reply.event_id, "body": reply.fields.get("msg_body")}}


def report(state: TriageState) -> TriageState:
    failure, reply = state["failure"], state.get("reply")
    body = reply["body"] if reply else None
    diagnosis = body.get("diagnosis") if isinstance(body, dict) else None
    done = waitbus.emit(
        "agent",
        "triage_done",
        fields={
            "agent": ME,
            "framework": "langgraph",
            "failure_event_id": failure["event_id"],
            "reply_event_id": reply["event_id"] if reply else None,
            "diagnosis": diagnosis,
        },
        summary=f"{ME} done with {failure['event_id']}: {diagnosis or 'recorded'}",
    )
    say(f"emitted agent/triage_done {done.event_id}: {diagnosis or 'recorded only'}")
    return {"outcome": "done"}


def build_graph() -> Any:
    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(TriageState)
    graph.add_node("watch", watch)
    graph.add_node("triage", triage)
    graph.add_node("ask_peer", ask_peer)
    graph.add_node("report", report)
    graph.add_edge(START, "watch")
    graph.add_conditional_edges(
        "watch", lambda s: "end" if "outcome" in s else "triage", {"triage": "triage", "end": END}
    )
    graph.add_conditional_edges("triage", lambda s: s["plan"], {"ask_peer": "ask_peer", "record_only": "report"})
    graph.add_conditional_edges(
        "ask_peer", lambda s: "end" if "outcome" in s else "report", {"report": "report", "end": END}
    )
    graph.add_edge("report", END)
    return graph.compile()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for the whole run (default 60)")
    args = parser.parse_args(argv)
    app = build_graph()
    ready = waitbus.emit("agent", "agent_ready", fields={"agent": ME, "framework": "langgraph"}, summary=f"{ME} ready")
    say(f"ready ({ready.event_id})")
    try:
        final: TriageState = app.invoke({"deadline": time.monotonic() + args.timeout})
    except waitbus.HubUnavailable as exc:
        say(f"no hub: {exc}")
        return 2
    outcome = final.get("outcome", "")
    if outcome != "done":
        say(f"giving up: {outcome}")
        return 1
    say("triage complete, exiting 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())

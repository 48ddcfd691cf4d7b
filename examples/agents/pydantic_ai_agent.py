"""A Pydantic AI agent that answers diagnosis requests arriving on the bus.

It coordinates with the LangGraph agent (langgraph_agent.py, another OS process) only
through the waitbus bus. Its tools call the waitbus SDK:

    wait_for_request  waitbus.wait_for(to="pydantic-fixer"): block (no polling) on its inbox
    read_event        waitbus.wait_for(match='event_id="..."', since=...): fetch an event
                      the request points at, replayed from the bus's log
    reply             waitbus.respond: the agent_message reply, correlated to the request

The model is Pydantic AI's FunctionModel driven by a fixed script (no LLM, no network,
no keys): it calls the tools in that order and writes the diagnosis from the failure's
fields. The Agent, its tools, their schemas and the run loop are the real framework.
Exit 0 after replying, 1 when the wait timed out (`--timeout`, default 60 s for the
whole run), 2 when no hub is reachable.

    python examples/agents/pydantic_ai_agent.py --timeout 60
"""

# No `from __future__ import annotations` here: Pydantic AI reads the tools' type hints
# at run time, and RunContext is imported inside build_agent().
import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import waitbus  # names load on first use: this import is nearly free

if TYPE_CHECKING:
    from pydantic_ai.messages import ModelMessage, ModelResponse
    from pydantic_ai.models.function import AgentInfo

START_TIME = time.time()  # before pydantic_ai loads: the inbox wait replays the bus from here

ME = "pydantic-fixer"
LOOKBACK_SLACK_S = 2.0  # replay a little before our start too: a request may race our subscribe


def say(text: str) -> None:
    print(f"[{ME}] {text}", flush=True)


def since_start() -> float:
    """Seconds to look back so a wait also sees what landed since this process started."""
    return time.time() - START_TIME + LOOKBACK_SLACK_S


@dataclass
class Deps:
    deadline: float  # time.monotonic() by which every wait must be over
    frames: dict[str, waitbus.EventFrame] = field(default_factory=dict)  # requests seen, by event id
    replied: list[str] = field(default_factory=list)  # reply event ids

    def left(self) -> float:
        return max(0.0, self.deadline - time.monotonic())


def diagnose(fields: dict[str, Any]) -> str:
    """The scripted model's "reasoning": a diagnosis from the failed session's fields."""
    failed, passed = fields.get("failed", "?"), fields.get("passed", "?")
    where = fields.get("rootdir") or "the project"
    return f"{failed} failed / {passed} passed in {where}: rerun the failures first with `pytest --lf -x`"


def scripted_model(messages: "list[ModelMessage]", info: "AgentInfo") -> "ModelResponse":
    """FunctionModel's function: decide the next step from the last tool result."""
    from pydantic_ai.messages import ModelRequest, ModelResponse, TextPart, ToolCallPart, ToolReturnPart

    last = messages[-1]
    returned = [p for p in last.parts if isinstance(p, ToolReturnPart)] if isinstance(last, ModelRequest) else []
    if not returned:  # the user prompt: start by waiting on the inbox
        return ModelResponse(parts=[ToolCallPart("wait_for_request", {})])
    result = returned[-1]
    content = _as_dict(result.content)
    if result.tool_name == "wait_for_request":
        if content.get("status") != "message":
            return ModelResponse(parts=[TextPart("timed out: no request arrived")])
        body = content.get("body")
        target = body.get("failure_event_id") if isinstance(body, dict) else None
        if isinstance(target, str):
            return ModelResponse(parts=[ToolCallPart("read_event", {"event_id": target})])
        return ModelResponse(
            parts=[ToolCallPart("reply", {"request_event_id": content["request_event_id"], "diagnosis": "no event"})]
        )
    if result.tool_name == "read_event":
        request_id = _last_request_id(messages)
        text = diagnose(content["fields"]) if content.get("status") == "found" else "the failure is not in the log"
        return ModelResponse(parts=[ToolCallPart("reply", {"request_event_id": request_id, "diagnosis": text})])
    if result.tool_name == "reply":
        return ModelResponse(parts=[TextPart(f"replied: {content.get('reply_event_id')}")])
    return ModelResponse(parts=[TextPart(f"unexpected tool result {result.tool_name}")])


def _as_dict(content: Any) -> dict[str, Any]:
    """A tool's return value as the dict our tools return ({} for anything else)."""
    return content if isinstance(content, dict) else {}


def _last_request_id(messages: "list[ModelMessage]") -> str:
    from pydantic_ai.messages import ModelRequest, ToolReturnPart

    for msg in reversed(messages):
        if isinstance(msg, ModelRequest):
            for part in msg.parts:
                if isinstance(part, ToolReturnPart) and part.tool_name == "wait_for_request":
                    return str(_as_dict(part.content)["request_event_id"])
    raise RuntimeError("no request seen yet")


def build_agent() -> Any:
    from pydantic_ai import Agent, RunContext
    from pydantic_ai.models.function import FunctionModel

    agent = Agent(
        FunctionModel(scripted_model, model_name="scripted-fixer"),
        deps_type=Deps,
        output_type=str,
        instructions="You fix failing test runs. Wait for a diagnosis request, read the failure, reply.",
    )

    @agent.tool
    def wait_for_request(ctx: RunContext[Deps]) -> dict[str, Any]:
        """Block until an agent_message addressed to this agent arrives (or the run's time is up)."""
        say("waiting on the bus for a request addressed to me (no polling)")
        frame = waitbus.wait_for(
            "fields.msg_reply_to=null", source="agent", to=ME, since=since_start(), timeout=ctx.deps.left()
        )
        if frame is None:
            return {"status": "timeout"}
        ctx.deps.frames[frame.event_id] = frame
        body = frame.fields.get("msg_body")
        say(f"got request {frame.event_id} from {frame.fields.get('msg_from')}: {json.dumps(body)}")
        return {
            "status": "message",
            "request_event_id": frame.event_id,
            "from": frame.fields.get("msg_from"),
            "body": body,
        }

    @agent.tool
    def read_event(ctx: RunContext[Deps], event_id: str) -> dict[str, Any]:
        """Fetch one event from the bus's log by id (a replay: no waiting for new events)."""
        from waitbus_wire import is_ulid, ulid_floor, ulid_time_ms

        if not is_ulid(event_id):
            return {"status": "missing", "event_id": event_id}
        # A cursor just before the event: the log replays it to us at once.
        before = ulid_floor(max(0, ulid_time_ms(event_id) - 1))
        frame = waitbus.wait_for(f"event_id={json.dumps(event_id)}", since=before, timeout=min(5.0, ctx.deps.left()))
        if frame is None:
            return {"status": "missing", "event_id": event_id}
        say(f"read {event_id} from the log: {frame.summary}")
        return {"status": "found", "event_id": event_id, "summary": frame.summary, "fields": dict(frame.fields)}

    @agent.tool
    def reply(ctx: RunContext[Deps], request_event_id: str, diagnosis: str) -> dict[str, Any]:
        """Answer a request with a diagnosis (a correlated agent_message reply)."""
        request = ctx.deps.frames[request_event_id]
        reply_id = waitbus.respond(request, {"diagnosis": diagnosis, "by": ME, "framework": "pydantic-ai"})
        ctx.deps.replied.append(reply_id)
        say(f"replied {reply_id} to {request.fields.get('msg_from')}: {diagnosis}")
        return {"reply_event_id": reply_id}

    return agent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds for the whole run (default 60)")
    args = parser.parse_args(argv)
    agent = build_agent()
    ready = waitbus.emit(
        "agent", "agent_ready", fields={"agent": ME, "framework": "pydantic-ai"}, summary=f"{ME} ready"
    )
    say(f"ready ({ready.event_id})")
    deps = Deps(deadline=time.monotonic() + args.timeout)
    try:
        result = agent.run_sync("A test run may fail soon. Wait for a diagnosis request and answer it.", deps=deps)
    except waitbus.HubUnavailable as exc:
        say(f"no hub: {exc}")
        return 2
    say(f"model output: {result.output}")
    if not deps.replied:
        say("giving up: no request answered")
        return 1
    say("diagnosis sent, exiting 0")
    return 0


if __name__ == "__main__":
    sys.exit(main())

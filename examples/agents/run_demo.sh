#!/usr/bin/env bash
# Two agents on two frameworks, in two OS processes, coordinating only through one
# waitbus bus:
#
#   langgraph_agent.py    (LangGraph)    waits for a failed pytest session, triages it,
#                                        asks its peer for a diagnosis (agent_message)
#   pydantic_ai_agent.py  (Pydantic AI)  waits on its inbox, reads the failure from the
#                                        log, replies with a diagnosis
#
# The failure is INJECTED by this script (`waitbus emit pytest pytest_session ...`), and
# both agents' "LLMs" are deterministic scripts: no network, no API keys.
#
# It runs on a private bus (a temporary state dir and runtime dir, its own hub) and
# touches nothing of yours. Exit 0 when both agents finished their part, 1 otherwise.
#
#   examples/agents/run_demo.sh            # from a checkout (uses .venv/bin/python if present)
#   PYTHON=/path/to/python examples/agents/run_demo.sh
#   DEMO_TIMEOUT=30 examples/agents/run_demo.sh
#
# Needs: waitbus (the CLI, hub and SDK) plus `pip install -r examples/agents/requirements.txt`.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PY="${PYTHON:-}"
if [[ -z $PY ]]; then
    if [[ -x $root/.venv/bin/python ]]; then PY="$root/.venv/bin/python"; else PY="python3"; fi
fi
timeout_s="${DEMO_TIMEOUT:-60}"

waitbus() { "$PY" -m waitbus_cli "$@"; }
banner() { printf '\n=== %s\n' "$*"; }

# A private bus: AF_UNIX paths are short, so the runtime dir lives under /tmp.
# DEMO_BUS=shared: use the bus the WAITBUS_* dirs already name, with its running hub
# (examples/agents/hero.sh runs `waitbus top` on it beside this demo).
shared=""
if [[ ${DEMO_BUS:-} == shared ]]; then
    shared=1
    state_dir="$WAITBUS_STATE_DIR" runtime_dir="$WAITBUS_RUNTIME_DIR"
else
    state_dir="$(mktemp -d "${TMPDIR:-/tmp}/waitbus-demo-state.XXXXXX")"
    runtime_dir="$(mktemp -d /tmp/wbdemo.XXXXXX)"
fi
export WAITBUS_STATE_DIR="$state_dir" WAITBUS_RUNTIME_DIR="$runtime_dir" WAITBUS_NO_AUTOSTART=1

hub_pid="" lg_pid="" pai_pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    local pid
    for pid in $lg_pid $pai_pid $hub_pid; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in $lg_pid $pai_pid $hub_pid; do
        wait "$pid" 2>/dev/null || true
    done
    [[ -n $shared ]] || rm -rf "$state_dir" "$runtime_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [[ -n $shared ]]; then
    banner "using the running hub (state: $state_dir)"
else
    banner "starting a private hub (state: $state_dir)"
    "$PY" -m waitbus_hub --log-level WARNING &
    hub_pid=$!
fi
for _ in $(seq 100); do
    if "$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' \
        "$runtime_dir/broadcast.sock" 2>/dev/null; then
        break
    fi
    sleep 0.1
done
waitbus status | sed 's/^/  /'
count_subscribers() {
    waitbus status --json | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["hub"].get("subscribers", 0))'
}
others="$(count_subscribers)"  # a shared bus may have listeners already (waitbus top)

banner "starting the two agents (each in its own process)"
"$PY" "$here/langgraph_agent.py" --timeout "$timeout_s" &
lg_pid=$!
"$PY" "$here/pydantic_ai_agent.py" --timeout "$timeout_s" &
pai_pid=$!

# Each agent emits agent/agent_ready once it is built. A wait on both, in one call:
waitbus wait --source agent --match 'fields.event_type="agent_ready"' \
    --all-of 'fields.agent="langgraph-triage"' --all-of 'fields.agent="pydantic-fixer"' \
    --since 10m --timeout 30s >/dev/null || { echo "the agents did not start (see above)" >&2; exit 1; }
# ... and both block on the hub (their waits replay from their start, so this is only
# so that the demo shows a live wake-up, not a replay).
for _ in $(seq 200); do
    subscribers="$(count_subscribers)"
    [[ $subscribers -ge $((others + 2)) ]] && break
    sleep 0.1
done
echo "  both agents are waiting on the bus ($subscribers subscribers, zero polling)"

banner "INJECTING a synthetic pytest failure (this event is made up by the demo)"
failure_id="$(waitbus emit pytest pytest_session outcome='"failed"' failed=2 passed=40 exitstatus=1 \
    rootdir='"/home/me/proj"' injected=true \
    --summary "[INJECTED] pytest failed: 2 failed, 40 passed in 3.20s (/home/me/proj)")"
echo "  emitted $failure_id"

status=0
wait "$lg_pid" || status=1
lg_pid=""
wait "$pai_pid" || status=1
pai_pid=""

banner "the bus log, oldest first"
waitbus read-events list

if [[ $status -eq 0 ]]; then
    banner "done: both agents finished their part (exit 0)"
else
    banner "FAILED: an agent did not finish its part (see above)"
fi
exit "$status"

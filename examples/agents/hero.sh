#!/usr/bin/env bash
# The hero demo: the two-framework agent demo (run_demo.sh) in one tmux pane and a live
# `waitbus top` on the same private bus in the other. Offline: the failure is injected
# and both agents' "LLMs" are deterministic scripts. Touches nothing of yours.
#
#   examples/agents/hero.sh            # `make hero`: attach to the tmux session; exits when you leave it
#   HERO_EXIT_AFTER=5 examples/agents/hero.sh
#                                      # attached, but ends 5 s after the demo (for recordings)
#   HERO_DETACH=1 examples/agents/hero.sh
#                                      # no terminal needed: runs detached, waits for the demo,
#                                      # prints both panes and exits with the demo's status
#
# Needs tmux, and what run_demo.sh needs (pip install -r examples/agents/requirements.txt).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
PY="${PYTHON:-}"
if [[ -z $PY ]]; then
    if [[ -x $root/.venv/bin/python ]]; then PY="$root/.venv/bin/python"; else PY="python3"; fi
fi
command -v tmux >/dev/null || { echo "hero: tmux is not installed (apt-get install tmux)" >&2; exit 2; }

state_dir="$(mktemp -d "${TMPDIR:-/tmp}/waitbus-hero-state.XXXXXX")"
runtime_dir="$(mktemp -d /tmp/wbhero.XXXXXX)"
session="waitbus-hero-$$"
socket="$runtime_dir/tmux.sock"  # a tmux server of our own: never the user's
export WAITBUS_STATE_DIR="$state_dir" WAITBUS_RUNTIME_DIR="$runtime_dir" WAITBUS_NO_AUTOSTART=1

hub_pid=""
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
    tmux -S "$socket" kill-server 2>/dev/null || true
    [[ -n $hub_pid ]] && { kill "$hub_pid" 2>/dev/null || true; wait "$hub_pid" 2>/dev/null || true; }
    rm -rf "$state_dir" "$runtime_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$PY" -m waitbus_hub --log-level WARNING &
hub_pid=$!
for _ in $(seq 100); do
    "$PY" -c 'import socket, sys; socket.socket(socket.AF_UNIX).connect(sys.argv[1])' \
        "$runtime_dir/broadcast.sock" 2>/dev/null && break
    sleep 0.1
done

env_line="WAITBUS_STATE_DIR=$state_dir WAITBUS_RUNTIME_DIR=$runtime_dir WAITBUS_NO_AUTOSTART=1"
top_cmd="env $env_line $PY -m waitbus_cli top --since 1h"
# The demo starts once top is subscribed, so every event lands in the live view.
demo_cmd="sleep 2; env $env_line DEMO_BUS=shared PYTHON=$PY $here/run_demo.sh; echo \$? > $runtime_dir/demo.status; \
echo; echo 'demo finished: the left pane stays live; leave with Ctrl-b d'; sleep 3600"

tmux -S "$socket" new-session -d -s "$session" -x "${HERO_COLS:-200}" -y "${HERO_ROWS:-50}" "$top_cmd"
tmux -S "$socket" split-window -h -t "$session" "$demo_cmd"
tmux -S "$socket" set-option -t "$session" status-left "[waitbus hero] " >/dev/null

if [[ -z ${HERO_DETACH:-} ]]; then
    if [[ -n ${HERO_EXIT_AFTER:-} ]]; then
        # For a recording (make hero-record): end the session this long after the demo.
        (for _ in $(seq 120); do [[ -f $runtime_dir/demo.status ]] && break; sleep 1; done
         sleep "$HERO_EXIT_AFTER"; tmux -S "$socket" kill-session -t "$session") >/dev/null 2>&1 &
    fi
    tmux -S "$socket" attach-session -t "$session" || true
    [[ -f $runtime_dir/demo.status ]] && exit "$(cat "$runtime_dir/demo.status")"
    exit 0
fi

for _ in $(seq "${HERO_TIMEOUT:-120}"); do
    [[ -f $runtime_dir/demo.status ]] && break
    sleep 1
done
sleep 1  # the last event's row reaches top's pane
echo "=== left pane: waitbus top"
tmux -S "$socket" capture-pane -p -t "$session.0"
echo "=== right pane: examples/agents/run_demo.sh"
tmux -S "$socket" capture-pane -p -S -200 -t "$session.1"
[[ -f $runtime_dir/demo.status ]] || { echo "hero: the demo did not finish in time" >&2; exit 1; }
exit "$(cat "$runtime_dir/demo.status")"

#!/usr/bin/env bash
# agent-respond.sh: make any command an agent on the bus. Waits for one agent_message
# request addressed to NAME, runs CMD with the request's msg_body (JSON) on stdin, and
# replies (correlated, same thread) with {"output": <CMD's stdout>, "exit_code": N}.
#
#   agent-respond.sh NAME [--timeout 60s] [--since 5m] -- CMD [ARGS...]
#
#   # answer one request to "linter" with ruff's verdict:
#   agent-respond.sh linter --timeout 10m -- ruff check --quiet .
#   # a Python agent asks it, and blocks for the reply:
#   #   waitbus.request("linter", {"ask": "lint"}, sender="me", timeout=600)
#
# Without --since only requests sent after the wait starts count (so a loop of this
# script never answers the same request twice); with it, a request sent up to that long
# ago is answered too. Needs jq. The message contract: docs/agent-messaging.md.
#
# Exit: 0 replied, 2 bad usage or no hub, 124 no request within --timeout, 130 interrupted.
# Environment: WAITBUS (the waitbus command, default `waitbus`).
set -uo pipefail

WAITBUS="${WAITBUS:-waitbus}"
prog="${0##*/}"

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

command -v jq >/dev/null 2>&1 || {
    echo "$prog: needs jq" >&2
    exit 2
}
[[ $# -ge 1 && $1 != -* ]] || usage
name="$1"
shift
timeout="" since=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --timeout) timeout="${2:?--timeout needs a duration}" && shift 2 ;;
        --since) since="${2:?--since needs a duration or event id}" && shift 2 ;;
        --) shift && break ;;
        *) usage ;;
    esac
done
[[ $# -ge 1 ]] || usage
json() { jq -cn --arg v "$1" '$v'; } # a shell string as a JSON string literal

args=(wait --json --source agent --match 'fields.event_type="agent_message"'
    --match "fields.msg_to=$(json "$name")" --match 'fields.msg_reply_to=null')
[[ -n $timeout ]] && args+=(--timeout "$timeout")
[[ -n $since ]] && args+=(--since "$since")

request="$("$WAITBUS" "${args[@]}")"
rc=$?
[[ $rc -eq 0 ]] || exit "$rc"

from="$(jq -r '.fields.msg_from' <<<"$request")"
echo "$prog: request $(jq -r .event_id <<<"$request") from $from" >&2
output="$(jq -c '.fields.msg_body' <<<"$request" | "$@")"
cmd_rc=$?
body="$(jq -cn --arg out "$output" --argjson rc "$cmd_rc" '{output: $out, exit_code: $rc}')"

"$WAITBUS" emit agent agent_message \
    "msg_to=$(jq -c '.fields.msg_from' <<<"$request")" \
    "msg_from=$(json "$name")" \
    "msg_correlation_id=$(json "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')")" \
    "msg_reply_to=$(jq -c '.fields.msg_correlation_id' <<<"$request")" \
    "msg_thread=$(jq -c '.fields.msg_thread' <<<"$request")" \
    "msg_body=$body" \
    --summary "$name -> $from (reply)" >/dev/null || exit 2
echo "$prog: replied to $from (exit code of the command: $cmd_rc)" >&2

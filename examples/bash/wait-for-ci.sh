#!/usr/bin/env bash
# wait-for-ci.sh: block (no polling loop) until CI or a test run has a verdict, then say
# what happened and exit with it. A thin wrapper around `waitbus wait`.
#
#   wait-for-ci.sh sha 7f3a1b2 [--timeout 30m] [--repo octo/hello] [--since 1d]
#       a commit's GitHub Actions verdict: exit 0 green, 1 red (failure, cancelled,
#       timed out). By default it also looks back 1 day, so a run that finished before
#       the wait started still counts.
#   wait-for-ci.sh pytest [--rootdir /home/me/proj] [--timeout 10m] [--since 5m]
#       the next pytest session (waitbus-sources-pytest): exit 0 passed, 1 anything else
#       (failed, error, interrupted, no tests). Without --since only sessions from now on.
#
# Exit codes (the same as `waitbus wait`, so callers can branch the same way):
#   0 green / passed   1 red / failed   2 setup error (bad flags, no hub)
#   124 timed out with no verdict   130 interrupted
#
# Environment: WAITBUS (the waitbus command, default `waitbus`), and waitbus's own
# WAITBUS_STATE_DIR / WAITBUS_RUNTIME_DIR / WAITBUS_NO_AUTOSTART.
set -uo pipefail

WAITBUS="${WAITBUS:-waitbus}"
prog="${0##*/}"

usage() {
    sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# A string field of the event from `waitbus wait --json` (compact JSON), at the top of
# `fields` or nested (GitHub's `fields.workflow_run.conclusion`). jq when it is
# installed; otherwise a match on the compact form waitbus prints.
field() {
    local key="$1" json="$2"
    if command -v jq >/dev/null 2>&1; then
        jq -r --arg k "$key" 'first(.fields | .. | objects | .[$k]? | strings) // empty' <<<"$json"
    elif [[ $json =~ \"fields\":\{.*\"$key\":\"([^\"]*)\" ]]; then
        printf '%s\n' "${BASH_REMATCH[1]}"
    fi
}

summary() {
    if command -v jq >/dev/null 2>&1; then
        jq -r '.summary' <<<"$1"
    elif [[ $1 =~ \"summary\":\"(([^\"\\]|\\.)*)\" ]]; then
        printf '%s\n' "${BASH_REMATCH[1]}"
    fi
}

[[ $# -ge 1 ]] || usage
mode="$1"
shift
target="" timeout="" repo="" rootdir="" since=""
case "$mode" in
    sha)
        [[ $# -ge 1 && $1 != -* ]] || usage
        target="$1"
        shift
        since="1d"
        ;;
    pytest) ;;
    -h | --help) usage ;;
    *)
        echo "$prog: unknown mode '$mode' (use: sha SHA | pytest)" >&2
        exit 2
        ;;
esac
while [[ $# -gt 0 ]]; do
    case "$1" in
        --timeout) timeout="${2:?--timeout needs a duration}" && shift 2 ;;
        --repo) repo="${2:?--repo needs OWNER/REPO}" && shift 2 ;;
        --rootdir) rootdir="${2:?--rootdir needs a directory}" && shift 2 ;;
        --since) since="${2:?--since needs a duration or event id}" && shift 2 ;;
        -h | --help) usage ;;
        *)
            echo "$prog: unknown option '$1'" >&2
            exit 2
            ;;
    esac
done

args=(wait --json)
if [[ $mode == sha ]]; then
    args+=(--sha "$target")
    what="CI for $target"
else
    args+=(--source pytest --match 'fields.event_type="pytest_session"')
    what="the pytest session"
    if [[ -n $rootdir ]]; then
        # The value is JSON: quote the path as a JSON string.
        escaped="${rootdir//\\/\\\\}"
        args+=(--match "fields.rootdir=\"${escaped//\"/\\\"}\"")
        what="the pytest session in $rootdir"
    fi
fi
[[ -n $repo ]] && args+=(--repo "$repo")
[[ -n $since ]] && args+=(--since "$since")
[[ -n $timeout ]] && args+=(--timeout "$timeout")

event="$("$WAITBUS" "${args[@]}")"
rc=$?

case "$rc" in
    0)
        if [[ $mode == pytest ]]; then
            outcome="$(field outcome "$event")"
            if [[ $outcome != passed ]]; then
                echo "RED: $what ended '${outcome:-unknown}': $(summary "$event")"
                exit 1
            fi
        fi
        echo "GREEN: $what passed: $(summary "$event")"
        exit 0
        ;;
    1)
        echo "RED: $what failed ($(field conclusion "$event")): $(summary "$event")"
        exit 1
        ;;
    124)
        echo "TIMEOUT: no verdict for $what within ${timeout}" >&2
        exit 124
        ;;
    2)
        echo "ERROR: waitbus could not wait (bad flags, or no hub: see the message above)" >&2
        exit 2
        ;;
    130)
        echo "interrupted" >&2
        exit 130
        ;;
    *)
        echo "ERROR: waitbus wait exited $rc" >&2
        exit "$rc"
        ;;
esac

#!/usr/bin/env bash
# A Claude Code hook that puts each session lifecycle event on the waitbus bus.
#
# Claude Code runs a command hook with the hook's input as one JSON object on stdin
# (session_id, transcript_path, cwd, hook_event_name, and per event: source for
# SessionStart, reason for SessionEnd, prompt for UserPromptSubmit, tool_name for the
# tool hooks, message for Notification). This script stores one `claude_code` event per
# call: event_type = the hook name in snake case (session_start, stop, ...), fields =
# the input minus the prompt's text (only its length) and tool input/output, with
# SessionStart's `source` as `hook_source`; every call is its own event. It never blocks or fails the session: whatever goes wrong, it exits 0.
#
# Settings (~/.claude/settings.json or .claude/settings.json), one entry per hook event:
#   {"hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": "/path/to/waitbus-hook.sh"}]}],
#              "Stop":         [{"hooks": [{"type": "command", "command": "/path/to/waitbus-hook.sh"}]}]}}
# Needs: python3 and waitbus (the SDK) importable by it; WAITBUS_PYTHON picks another python.
set -u
py="${WAITBUS_PYTHON:-python3}"
# The program goes in -c: stdin stays the hook input, which the program reads.
program=$(cat <<'PY'
import json, re, sys

raw = sys.stdin.read()
try:
    data = json.loads(raw)
except ValueError:
    sys.exit(0)  # not the JSON Claude Code sends: nothing to record
if not isinstance(data, dict):
    sys.exit(0)
name = str(data.get("hook_event_name") or "hook")
event_type = re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()[:64] or "hook"
fields = {k: v for k, v in data.items() if k not in ("prompt", "tool_input", "tool_response")}
for reserved in ("source", "event_type"):  # SessionStart's "source" is how it started
    if reserved in fields:
        fields[f"hook_{reserved}"] = fields.pop(reserved)
if isinstance(data.get("prompt"), str):
    fields["prompt_chars"] = len(data["prompt"])  # the prompt itself stays out of the log
session = str(data.get("session_id") or "")[:12]
summary = f"claude code {event_type}" + (f" ({data.get('tool_name')})" if data.get("tool_name") else "")
summary += f" session {session}" if session else ""

from waitbus import emit

emit("claude_code", event_type, fields=fields, summary=summary)
PY
)
"$py" -c "$program" 2>>"${WAITBUS_HOOK_LOG:-/dev/null}" || true
exit 0

"""Agent messages: the one place an `agent_message` event is written.

`request`, `respond` and the MCP `request` tool send through `send_message`, so the
fields (waitbus_wire.AGENT_MESSAGE_KEYS), the summary and the reply's match are
written once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SentMessage:
    """An agent message as stored: its event id, correlation id and thread."""

    event_id: str
    correlation_id: str
    thread: str | None

    @property
    def reply_match(self) -> str:
        """The spec a reply to this message matches (`source="agent"` and `to` are the caller's)."""
        import msgspec

        return f"fields.msg_reply_to={msgspec.json.encode(self.correlation_id).decode()}"


def send_message(
    to: str, body: Any, *, sender: str, thread: str | None = None, reply_to: str | None = None
) -> SentMessage:
    """Emit an `agent_message` from `sender` to `to`. A new conversation (no `reply_to`)
    is its own thread unless `thread` names one; a reply keeps the thread it is given."""
    from ._emit import emit  # waiters need no store connection; only agents that talk do

    correlation_id = os.urandom(16).hex()
    if thread is None and reply_to is None:
        thread = correlation_id
    sent = emit(
        "agent",
        "agent_message",
        fields={
            "msg_to": to,
            "msg_from": sender,
            "msg_correlation_id": correlation_id,
            "msg_reply_to": reply_to,
            "msg_thread": thread,
            "msg_body": body,
        },
        summary=f"{sender} -> {to}" + (" (reply)" if reply_to is not None else ""),
    )
    return SentMessage(sent.event_id, correlation_id, thread)

"""send_message: the one writer of agent_message events (request, respond and MCP use it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from waitbus import Matcher, send_message
from waitbus_store import open_reader
from waitbus_wire import AGENT_MESSAGE_KEYS


@pytest.fixture(autouse=True)
def _dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WAITBUS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("WAITBUS_RUNTIME_DIR", str(tmp_path / "run"))
    monkeypatch.setenv("WAITBUS_NO_AUTOSTART", "1")


def test_a_request_is_its_own_thread_and_its_reply_matches_reply_match() -> None:
    sent = send_message("bob", {"q": 1}, sender="alice")
    assert sent.thread == sent.correlation_id
    reply = send_message("alice", "yes", sender="bob", thread=sent.thread, reply_to=sent.correlation_id)
    reader = open_reader()
    assert reader is not None
    with reader:
        frames = {f.event_id: f for _, f in reader.recent()}
    request, answer = frames[sent.event_id], frames[reply.event_id]
    assert set(AGENT_MESSAGE_KEYS) <= set(request.fields)
    assert request.summary == "alice -> bob" and answer.summary == "bob -> alice (reply)"
    assert answer.fields["msg_thread"] == sent.correlation_id and reply.thread == sent.thread
    assert Matcher(sent.reply_match, source="agent", to="alice").offer(answer)
    assert not Matcher(sent.reply_match, source="agent", to="alice").offer(request)

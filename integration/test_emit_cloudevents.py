"""POST /emit with a structured-mode CloudEvent (`application/cloudevents+json`) against a
real `waitbus listener serve`, stored in the real log and heard by a real subscriber."""

from __future__ import annotations

import base64
import json

import pytest

from tests._support.listener import TOKEN, call, serve, stage_token, stored

CE = {
    "specversion": "1.0",
    "id": "deploy-1234",
    "source": "ci",
    "type": "deploy",
    "subject": "staging deploy finished",
    "time": "2026-12-06T03:00:00Z",
    "datacontenttype": "application/json",
    "owner": "acme",
    "repo": "shop",
    "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    "data": {"env": "staging", "ok": True},
}


def post(port: int, body: object, content_type: str = "application/cloudevents+json") -> tuple[int, dict]:
    headers = {"Content-Type": content_type, "Authorization": f"Bearer {TOKEN}"}
    status, _, data = call(port, "POST", "/emit", json.dumps(body).encode(), headers)
    return status, json.loads(data)


@pytest.mark.timeout(60)
def test_a_structured_cloudevent_is_stored_with_the_documented_mapping(reap, tmp_path, hub):
    from waitbus import subscribe

    stage_token()
    served = serve(reap, tmp_path)
    with subscribe(source="ci") as sub:
        status, body = post(served.port, CE)
        assert status == 201, body
        frame = sub.get(timeout=10)
    assert frame is not None and frame.event_id == body["event_id"]
    assert (frame.source, frame.event_type, frame.summary) == ("ci", "deploy", "staging deploy finished")
    assert (frame.owner, frame.repo, frame.delivery_id) == ("acme", "shop", "deploy-1234")
    assert frame.fields["env"] == "staging" and frame.fields["ok"] is True
    assert frame.fields["cloudevent"] == {
        "time": "2026-12-06T03:00:00Z",
        "datacontenttype": "application/json",
        "traceparent": CE["traceparent"],
    }
    again = post(served.port, CE)  # the same CloudEvent id: stored once
    assert again == (200, {"event_id": body["event_id"], "inserted": False})


@pytest.mark.timeout(60)
def test_binary_data_becomes_the_payload_and_a_string_is_fields_data(reap, tmp_path):
    stage_token()
    served = serve(reap, tmp_path)
    raw = b"\x00\x01binary"
    no_data = {k: v for k, v in CE.items() if k != "data"}
    status, _ = post(served.port, {**no_data, "id": "b1", "data_base64": base64.b64encode(raw).decode()})
    assert status == 201
    status, _ = post(served.port, {**CE, "id": "s1", "data": "just text"})
    assert status == 201
    rows = {r["delivery_id"]: r for r in stored()}
    assert rows["b1"]["payload"] == raw
    assert json.loads(rows["s1"]["fields"])["data"] == "just text"


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"specversion": "0.3"}, 'specversion must be "1.0"'),
        ({"id": None}, "needs string id"),
        ({"source": "https://example.com/ci"}, "source"),  # a URI is a CE source, not a waitbus name
        ({"data_base64": "AAAA"}, "exclusive"),
    ],
)
def test_what_waitbus_cannot_take_is_400_and_stores_nothing(reap, tmp_path, change, message):
    stage_token()
    served = serve(reap, tmp_path)
    status, body = post(served.port, {**CE, **change})
    assert status == 400 and message in body["error"], body
    assert stored() == []


@pytest.mark.timeout(60)
def test_without_the_cloudevents_content_type_the_body_is_a_plain_event(reap, tmp_path):
    stage_token()
    served = serve(reap, tmp_path)
    status, body = post(served.port, CE, content_type="application/json")
    assert status == 400 and "unknown key" in body["error"]

"""kill -9 of the webhook listener with POSTs in flight (`waitbus listener serve`, a real
process on a real loopback port; the peers are this test's own HTTP clients, and the
GitHub delivery is GitHub's real example signed the way GitHub signs it).

A POST that got a 2xx is committed: it is in the log exactly once after the crash. A
sender that got no answer (or a 5xx) sends again after the restart, as GitHub and
Alertmanager do, and the dedup on (source, delivery_id) makes that safe.
"""

from __future__ import annotations

import http.client
import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests._support import faults as fh
from tests._support import github as gh

TOKEN = "emit-token-for-the-kill-test"
SENDERS = 4
PER_SENDER = 150
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def post_emit(url: str, delivery: str) -> tuple[int | None, dict[str, Any]]:
    """(status, reply) of one POST /emit; status None when the connection died."""
    body = json.dumps({"source": "ci", "event_type": "deploy", "delivery_id": delivery, "fields": {"d": delivery}})
    request = urllib.request.Request(
        url + "/emit", data=body.encode(), headers={"Authorization": f"Bearer {TOKEN}"}, method="POST"
    )
    try:
        with _OPENER.open(request, timeout=20) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code, {}
    except (OSError, http.client.HTTPException, ValueError):  # refused, reset, or cut off mid-answer
        return None, {}


@pytest.mark.timeout(120)
def test_kill9_with_posts_in_flight_keeps_every_acknowledged_event_once(tmp_path: Path) -> None:
    gh.stage_secret("emit-token", TOKEN)
    listener = gh.Listener(tmp_path)
    answers: dict[str, tuple[int | None, dict[str, Any]]] = {}
    lock = threading.Lock()

    def sender(n: int) -> None:
        for i in range(PER_SENDER):
            delivery = f"s{n}-{i}"
            answer = post_emit(listener.url, delivery)
            with lock:
                answers[delivery] = answer
            if answer[0] is None:
                return  # the listener is gone: this sender retries after the restart

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(SENDERS)]
    for t in threads:
        t.start()
    fh.wait_until(lambda: len(answers) >= 100, "100 answered POSTs")
    listener.proc.kill()  # kill -9, mid-stream: requests are in flight on four connections
    listener.proc.wait(10)
    for t in threads:
        t.join(30)
    acked = {d: reply["event_id"] for d, (status, reply) in answers.items() if status in (200, 201)}
    assert 100 <= len(acked) < SENDERS * PER_SENDER  # the kill landed mid-stream
    by_delivery = {r["delivery_id"]: r for r in fh.stored("ci")}
    for delivery, event_id in acked.items():  # every acknowledged POST is committed
        assert by_delivery[delivery]["event_id"] == event_id

    listener = gh.Listener(tmp_path)  # restarted; every sender sends its whole list again
    try:
        again = {f"s{n}-{i}": post_emit(listener.url, f"s{n}-{i}") for n in range(SENDERS) for i in range(PER_SENDER)}
    finally:
        listener.stop()
    for delivery, (status, reply) in again.items():
        if delivery in acked:
            assert (status, reply["inserted"], reply["event_id"]) == (200, False, acked[delivery])
        else:
            assert status in (200, 201)  # 200: it was committed though its answer was cut off
    rows = fh.stored("ci")
    assert sorted(r["delivery_id"] for r in rows) == sorted(again)  # each exactly once
    assert fh.integrity_ok()


@pytest.mark.timeout(120)
def test_a_github_delivery_redelivered_after_a_listener_kill9_is_stored_once(tmp_path: Path) -> None:
    gh.stage_secret("github-webhook-secret", gh.SECRET)
    delivery = json.loads(gh.fixture("workflow_run.completed.json"))
    body = gh.body_of(delivery)
    headers = gh.signed_headers(body, "workflow_run", "guid-kill9")
    listener = gh.Listener(tmp_path)
    status, first = listener.post("/webhook", body, headers)
    assert status == 200 and first["inserted"] is True
    listener.proc.kill()
    listener.proc.wait(10)
    listener = gh.Listener(tmp_path)
    try:
        status, again = listener.post("/webhook", body, headers)  # GitHub's "Redeliver"
    finally:
        listener.stop()
    assert (status, again["inserted"], again["event_id"]) == (200, False, first["event_id"])
    assert [r["event_id"] for r in fh.stored("github")] == [first["event_id"]]

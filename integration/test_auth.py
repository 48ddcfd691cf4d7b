"""The listener's authentication promises (SECURITY.md), against a real `waitbus listener
serve` with every credential staged and real sockets. Complements what is tested
elsewhere: per-source bad signatures/tokens (integration/sources), POST /emit 401s and
the generic 411/413 framing (tests/cli/test_cli_listener.py), the other-UID refusal and
the socket modes (integration/test_hub_peer_uid.py, test_hub_guarantees.py)."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess

import pytest

from tests._support import WAITBUS
from tests._support import listener as lh
from waitbus_cli._secrets import store_secret
from waitbus_store import resolve_paths

SECRETS = {
    "emit-token": "emit-auth-token-11",
    "github-webhook-secret": "gh-auth-secret-22",
    "alertmanager-token": "am-auth-token-33",
    "alertmanager-hmac": "am-auth-hmac-44",
}
RUN = {"workflow_run": {"id": 1, "status": "completed", "conclusion": "success"}, "repository": {"name": "r"}}
ALERTS = {
    "version": "4",
    "alerts": [{"status": "firing", "labels": {"alertname": "A"}, "startsAt": "t", "fingerprint": "f"}],
}
BODIES = {
    "/emit": json.dumps({"source": "ci", "event_type": "auth"}).encode(),
    "/webhook": json.dumps(RUN).encode(),
    "/alertmanager": json.dumps(ALERTS).encode(),
}


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def own_credentials(route: str, body: bytes) -> dict[str, str]:
    if route == "/emit":
        return {"Authorization": f"Bearer {SECRETS['emit-token']}"}
    if route == "/webhook":
        return {"X-Hub-Signature-256": sign(SECRETS["github-webhook-secret"], body), "X-GitHub-Event": "workflow_run"}
    return {"Authorization": f"Bearer {SECRETS['alertmanager-token']}"}


def foreign_credentials(route: str, body: bytes) -> list[dict[str, str]]:
    """Every other route's secret, presented every way a route reads credentials."""
    own = {"/emit": ("emit-token",), "/webhook": ("github-webhook-secret",)}.get(
        route, ("alertmanager-token", "alertmanager-hmac")
    )
    out = []
    for name, value in SECRETS.items():
        if name in own:
            continue
        out.append({"Authorization": f"Bearer {value}"})
        out.append({"X-Hub-Signature-256": sign(value, body), "X-GitHub-Event": "workflow_run"})
        out.append({"X-Waitbus-Signature-256": sign(value, body)})
    return out


@pytest.fixture
def listener(reap, tmp_path):
    for name, value in SECRETS.items():
        store_secret(resolve_paths().secrets, name, value)
    return lh.serve(reap, tmp_path)


@pytest.mark.timeout(60)
def test_each_credential_opens_only_its_own_route_and_refusals_store_nothing(listener):
    for route, body in BODIES.items():
        for headers in foreign_credentials(route, body):
            status, _, reply = lh.call(listener.port, "POST", route, body, headers)
            assert status == 401, (route, headers, reply)
            assert not any(v.encode() in reply for v in SECRETS.values())
        assert lh.stored() == [], route
    # The same bodies with the route's own credential are stored: the refusals above were
    # about the credential, not the request.
    for route, body in BODIES.items():
        status, _, reply = lh.call(listener.port, "POST", route, body, own_credentials(route, body))
        assert status in (200, 201), (route, reply)
    assert sorted(str(r["source"]) for r in lh.stored()) == ["alertmanager", "ci", "github"]
    log = listener.log_text()
    assert not any(v in log for v in SECRETS.values())


@pytest.mark.timeout(60)
@pytest.mark.parametrize("route", ["/emit", "/webhook", "/alertmanager", "/watchdog"])
def test_a_body_over_the_cap_is_413_on_every_authenticated_route_before_it_is_read(listener, route):
    # Valid credentials and only the headers: the length alone must refuse it. A server
    # that waited for 11 MiB would hold this 5 s read open and answer nothing: `closed`
    # says the server closed first (no wall-clock bound: this box is shared and loaded).
    creds = own_credentials(route if route != "/watchdog" else "/alertmanager", b"")
    head = f"POST {route} HTTP/1.1\r\nHost: x\r\nContent-Length: {11 * 1024 * 1024}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in creds.items()) + "\r\n"
    reply, closed = lh.raw(listener.port, head.encode(), timeout=5)
    assert reply.startswith(b"HTTP/1.1 413 ") and closed, reply[:200]
    assert lh.stored() == []


BAD_FILES = {
    "loose mode": (json.dumps({"emit-token": "SECRET-in-a-loose-file"}).encode(), 0o644, "chmod 600"),
    "not JSON": (b'{"emit-token": "SECRET-in-broken-json", ', 0o600, "not valid JSON"),
    "nested past the stack": (b"[" * 50000 + b'"SECRET-deep"' + b"]" * 50000, 0o600, "not valid JSON"),
    "not strings": (json.dumps({"emit-token": ["SECRET-in-a-list"]}).encode(), 0o600, "object of strings"),
    "not UTF-8": (b'{"emit-token": "SECRET-\xff"}', 0o600, "not valid JSON"),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("case", sorted(BAD_FILES))
def test_a_bad_secrets_file_stops_the_listener_with_exit_2_and_is_never_printed(case):
    data, mode, says = BAD_FILES[case]
    path = resolve_paths().ensure().secrets
    path.write_bytes(data)
    path.chmod(mode)
    out = subprocess.run(
        [WAITBUS, "listener", "serve", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env=os.environ.copy(),
    )
    assert out.returncode == 2, out.stderr[-500:]
    assert str(path) in out.stderr and says in out.stderr
    assert "SECRET" not in out.stderr + out.stdout and "Traceback" not in out.stderr

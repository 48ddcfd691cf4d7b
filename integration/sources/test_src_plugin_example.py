"""The example plugin (examples/plugin-hello) end to end: built and installed by pip
(into a temp target dir put on PYTHONPATH, so the shared .venv is untouched), listed by
`waitbus source list`, run by `waitbus source hello`, and served by a real
`waitbus listener serve` whose POST /hello stores nothing without the plugin's token."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._support import WAITBUS, run_cli
from waitbus_store import connect_readonly, resolve_paths

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def hello_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`pip install --target`: a real wheel build (hatchling) and install, entry points included.
    --no-deps: its one dependency, waitbus-sdk, is already in the venv from packages/."""
    target = tmp_path_factory.mktemp("plugin-hello")
    out = subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
            "--target", str(target), str(REPO / "examples" / "plugin-hello"),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert (target / "waitbus_plugin_hello" / "__init__.py").exists()
    return target


@pytest.fixture
def hello(hello_target: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTHONPATH", str(hello_target))
    return hello_target


def stored() -> list[tuple[str, str, str, str]]:
    db = resolve_paths().db
    if not db.exists():
        return []
    conn = connect_readonly(db)
    try:
        return list(conn.execute("SELECT event_id, source, event_type, fields FROM events ORDER BY seq"))
    finally:
        conn.close()


def post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, object]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", "/hello", body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


@pytest.mark.timeout(120)
def test_the_example_plugin_is_listed_through_the_entry_point(hello):
    out = run_cli("source", "list", "--json")
    assert out.returncode == 0, out.stderr
    (row,) = [r for r in json.loads(out.stdout) if r["name"] == "hello"]
    assert row["package"] == "waitbus-plugin-hello" and row["entry_point"] == "waitbus_plugin_hello:SOURCE"
    assert row["event_types"] == ["hello"] and row["runner"] is True and row["routes"] == ["POST /hello"]
    table = run_cli("source", "list").stdout
    assert any(line.split()[:2] == ["hello", "waitbus-plugin-hello"] for line in table.splitlines())


@pytest.mark.timeout(120)
def test_waitbus_source_hello_emits_one_event(hello):
    out = run_cli("source", "hello", "--name", "Ada")
    assert out.returncode == 0, out.stderr
    ((event_id, source, event_type, fields),) = stored()
    assert out.stdout.strip() == event_id
    assert (source, event_type) == ("hello", "hello")
    assert json.loads(fields)["name"] == "Ada"
    bad = run_cli("source", "hello")  # the runner's own argparse: --name is required
    assert bad.returncode == 2 and "--name" in bad.stderr


@pytest.mark.timeout(120)
def test_post_hello_through_a_real_listener_needs_the_token(hello, reap, tmp_path):
    assert run_cli("install-credentials", "hello-token", input="hello-s3cret").returncode == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tmp_path / "listener.log"
    with open(log, "wb") as f:
        proc = reap(subprocess.Popen([WAITBUS, "listener", "serve", "--port", str(port)], stdout=f, stderr=f))
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, log.read_text()
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            health = json.loads(conn.getresponse().read())
            conn.close()
            break
        except OSError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
    assert "hello" in health["sources"] and "POST /hello" in health["routes"]

    body = json.dumps({"name": "Grace"}).encode()
    assert post(port, body, {})[0] == 401
    assert post(port, body, {"Authorization": "Bearer wrong"})[0] == 401
    assert stored() == []  # nothing from an unauthenticated request

    auth = {"Authorization": "Bearer hello-s3cret", "X-Hello-Delivery": "hello-1"}
    status, reply = post(port, body, auth)
    assert status == 201 and reply["inserted"] is True
    ((event_id, source, event_type, fields),) = stored()
    assert (event_id, source, event_type) == (reply["event_id"], "hello", "hello")
    assert json.loads(fields)["name"] == "Grace"
    status, again = post(port, body, auth)  # a redelivery is a no-op
    assert status == 200 and again == {"event_id": event_id, "inserted": False}
    assert len(stored()) == 1
    assert "hello-s3cret" not in log.read_text()

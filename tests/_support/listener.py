"""A real `waitbus listener serve` on a free loopback port, and the raw HTTP it is
spoken to with: shared by tests/cli and the integration auth, limit and fuzz tests."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import time
from pathlib import Path

from tests._support._cli import WAITBUS, run_cli
from tests._support._net import free_port
from waitbus_store import connect_readonly, resolve_paths

TOKEN = "emit-tok-7f3a9c"


def stage_token(value: str = TOKEN) -> None:
    out = run_cli("install-credentials", "emit-token", input=value)
    assert out.returncode == 0, out.stderr


class Served:
    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc, self.port, self.log = proc, port, log

    def log_text(self) -> str:
        return self.log.read_text()

    def wait_log(self, pattern: str, timeout: float = 10) -> str:
        """The log once it matches: a request's line is written just after its response."""
        deadline = time.monotonic() + timeout
        while not re.search(pattern, text := self.log_text()):
            assert time.monotonic() < deadline, f"no {pattern!r} in: {text}"
            time.sleep(0.02)
        return text


def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=15)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def serve(reap, tmp_path: Path, *args: str, port: int | None = None) -> Served:
    port = port or free_port()
    log = tmp_path / f"listener-{port}.log"
    with open(log, "wb") as f:
        proc = reap(subprocess.Popen([WAITBUS, "listener", "serve", "--port", str(port), *args], stderr=f, stdout=f))
    deadline = time.monotonic() + 20
    while True:
        assert proc.poll() is None, f"listener exited {proc.returncode}: {log.read_text()}"
        try:
            if call(port, "GET", "/healthz")[0] == 200:
                return Served(proc, port, log)
        except OSError:
            pass
        assert time.monotonic() < deadline, f"no /healthz: {log.read_text()}"
        time.sleep(0.05)


def raw(port: int, data: bytes, timeout: float = 5.0) -> tuple[bytes, bool]:
    """Send bytes, read until the server closes; (response, closed before the timeout)."""
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        try:
            while chunk := s.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            return b"".join(chunks), False
        except ConnectionResetError:
            pass
    return b"".join(chunks), True


def stored() -> list[dict[str, object]]:
    db = resolve_paths().db
    if not db.exists():
        return []
    conn = connect_readonly(db)
    try:
        conn.row_factory = lambda cur, row: {d[0]: v for d, v in zip(cur.description, row, strict=True)}
        return list(conn.execute("SELECT * FROM events ORDER BY seq"))
    finally:
        conn.close()


def emit_post(port: int, event: object, token: str | None = TOKEN, raw_body: bytes | None = None):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = raw_body if raw_body is not None else json.dumps(event).encode()
    status, _, data = call(port, "POST", "/emit", body, headers)
    return status, json.loads(data)

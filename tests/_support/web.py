"""A real `waitbus-web` server in a subprocess, and a small Server-Sent Events reader,
shared by tests/web and integration/web."""

from __future__ import annotations

import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

URL_RE = re.compile(r"^http://127\.0\.0\.1:(\d+)/\?token=([A-Za-z0-9_-]{43})$")


class WebProcess:
    """`python -m waitbus_web` for one test; the first line of its stdout is the URL."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "waitbus_web", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 20)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line:
            self.stop()
            raise AssertionError(f"waitbus-web printed no URL: {self.stderr_text()}")
        self.url = line
        m = URL_RE.match(line)
        assert m is not None, line
        self.port, self.token = int(m.group(1)), m.group(2)
        self.origin = f"http://127.0.0.1:{self.port}"
        self.cookie = f"waitbus_web_{self.port}={self.token}"
        self.readers: list[SSEReader] = []

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise AssertionError("no VmRSS")

    def request(
        self, path: str, *, cookie: bool = True, headers: dict[str, str] | None = None, timeout: float = 10
    ) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            hdrs = dict(headers or {})
            if cookie:
                hdrs.setdefault("Cookie", self.cookie)
            conn.request("GET", path, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def stream(self, query: str = "", *, last_event_id: str | None = None, rcvbuf: int | None = None) -> SSEReader:
        reader = SSEReader(self.port, f"/api/events{query}", self.cookie, last_event_id=last_event_id, rcvbuf=rcvbuf)
        self.readers.append(reader)
        return reader

    def stderr_text(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return ""
        return self.proc.stderr.read().decode(errors="replace")

    def signal(self, signum: int, timeout: float = 15) -> int:
        self.proc.send_signal(signum)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        for reader in self.readers:
            reader.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


class SSEReader:
    """A Server-Sent Events client on a plain socket: sees exactly what the server sends."""

    def __init__(
        self, port: int, path: str, cookie: str, *, last_event_id: str | None = None, rcvbuf: int | None = None
    ) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf is not None:  # before connect, so the window stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        extra = f"Last-Event-ID: {last_event_id}\r\n" if last_event_id else ""
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
            f"Accept: text/event-stream\r\n{extra}\r\n".encode()
        )
        self.buf = bytearray()
        self.pos = 0  # where the unread part of buf starts (no copying per message)
        self.eof = False
        self.status = 0
        self.headers: dict[str, str] = {}

    def _fill(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0 or self.eof:
            return False
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(1 << 20)
        except TimeoutError:
            return False
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _take(self, sep: bytes, deadline: float) -> bytes | None:
        """The bytes up to the next `sep` (consumed with it); None at timeout or EOF."""
        start = self.pos
        while (end := self.buf.find(sep, start)) < 0:
            start = max(self.pos, len(self.buf) - len(sep) + 1)
            if not self._fill(deadline):
                return None
        block = bytes(self.buf[self.pos : end])
        self.pos = end + len(sep)
        if self.pos > 1 << 20:
            del self.buf[: self.pos]
            self.pos = 0
        return block

    def _head(self, deadline: float) -> None:
        if not self.status:
            head = self._take(b"\r\n\r\n", deadline)
            if head is None:
                raise AssertionError(f"no response head: {bytes(self.buf[:200])!r}")
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            self.headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:])}

    def next(self, timeout: float = 10) -> dict[str, Any] | None:
        """The next message as {"event", "id", "data"} (data decoded from JSON); None at
        timeout or EOF. Comments and `retry:` lines are skipped."""
        deadline = time.monotonic() + timeout
        self._head(deadline)
        while True:
            block = self._take(b"\n\n", deadline)
            if block is None:
                return None
            msg: dict[str, Any] = {"event": "message", "id": None, "data": None}
            for line in block.decode().split("\n"):
                key, _, value = line.partition(": ")
                if key == "event":
                    msg["event"] = value
                elif key == "id":
                    msg["id"] = value
                elif key == "data":
                    msg["data"] = json.loads(value)
            if msg["data"] is not None:
                return msg

    def until(self, event: str, timeout: float = 10) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            msg = self.next(max(0.0, deadline - time.monotonic()))
            assert msg is not None, f"no {event!r} message within {timeout}s"
            if msg["event"] == event:
                return msg

    def events(self, n: int, timeout: float = 10) -> list[dict[str, Any]]:
        """The next n event messages (stats and the like skipped)."""
        out: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            msg = self.next(max(0.0, deadline - time.monotonic()))
            if msg is None:
                break
            if msg["event"] == "message":
                out.append(msg)
        return out

    def close(self) -> None:
        self.sock.close()


def host_of(url: str) -> str:
    return urlsplit(url).netloc


def listening_addresses(port: int) -> set[str]:
    """Local addresses of the listening TCP sockets on `port`, from /proc/net/tcp{,6}."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not os.path.exists(table):
            continue
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                addr, port_hex = parts[1].rsplit(":", 1)
                if int(port_hex, 16) == port and parts[3] == "0A":  # LISTEN
                    found.add(addr)
    return found


@pytest.fixture
def web_factory(hub: Any) -> Iterator[Callable[..., WebProcess]]:
    """Start `waitbus-web` with extra flags against this test's hub and dirs."""
    made: list[WebProcess] = []

    def make(*args: str) -> WebProcess:
        proc = WebProcess(*args)
        made.append(proc)
        return proc

    yield make
    for proc in made:
        proc.stop()


@pytest.fixture
def web(web_factory: Callable[..., WebProcess]) -> WebProcess:
    return web_factory()

"""Shared test fixtures. Every test runs hermetic: its own state and runtime dirs,
no autostart unless it asks, and every process it starts is reaped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests._support import HubProcess


@pytest.fixture(autouse=True)
def waitbus_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    # AF_UNIX paths are short (107 bytes): the runtime dir gets a short name of its own.
    runtime = tempfile.mkdtemp(prefix="wb-")
    env = {
        "WAITBUS_STATE_DIR": str(tmp_path / "state"),
        "WAITBUS_RUNTIME_DIR": runtime,
        "WAITBUS_NO_AUTOSTART": "1",
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_RUNTIME_DIR": runtime,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def hub_factory(waitbus_env: dict[str, str]) -> Iterator[Callable[..., HubProcess]]:
    made: list[HubProcess] = []

    def make(args: list[str] | None = None, *, start: bool = True, env: dict[str, str] | None = None) -> HubProcess:
        """A hub for this test's dirs, or (with `env`) for the state/runtime dirs in `env`."""
        hub = HubProcess((env or waitbus_env)["WAITBUS_RUNTIME_DIR"], args, env)
        made.append(hub)
        return hub.start() if start else hub

    yield make
    for hub in made:
        hub.stop()


@pytest.fixture
def hub(hub_factory: Callable[..., HubProcess]) -> HubProcess:
    return hub_factory(["--heartbeat-sec", "1"])


@pytest.fixture
def reap() -> Iterator[Callable[[subprocess.Popen[bytes]], subprocess.Popen[bytes]]]:
    """Register a child process to be killed when the test ends."""
    procs: list[subprocess.Popen[bytes]] = []

    def add(proc: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:
        procs.append(proc)
        return proc

    yield add
    for proc in procs:
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL) if proc.pid == os.getpgid(proc.pid) else proc.kill()
            except ProcessLookupError:
                pass
            proc.wait(10)
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


class RawClient:
    """A hand-written v1 client on a plain socket: sees exactly what the hub sends."""

    def __init__(self, path: Path) -> None:
        from waitbus_wire import FrameDecoder

        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.connect(str(path))
        except OSError:
            self.sock.close()
            raise
        self.decoder = FrameDecoder()
        self.pending: list[bytes] = []
        self.eof = False

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def subscribe(self, **fields: object) -> dict[str, object]:
        import msgspec

        from waitbus_wire import encode_frame

        self.send_raw(encode_frame(msgspec.json.encode(fields)))
        ack = self.next(5)
        assert ack is not None and ack["kind"] == "subscribe_ack", ack
        return ack

    def next(self, timeout: float) -> dict[str, object] | None:
        """The next frame as a dict; None at timeout or EOF (then .eof is True)."""
        import msgspec

        deadline = time.monotonic() + timeout
        while not self.pending:
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return None
            except ConnectionResetError:
                data = b""
            if not data:
                self.eof = True
                assert self.decoder.pending == 0, "torn frame at EOF"
                return None
            self.pending.extend(self.decoder.feed(data))
        result: dict[str, object] = msgspec.json.decode(self.pending.pop(0))
        return result

    def events(self, n: int, timeout: float = 10) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            frame = self.next(max(0.0, deadline - time.monotonic()))
            if frame is None:
                break
            if frame["kind"] == "event":
                out.append(frame)
        return out

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw_client(waitbus_env: dict[str, str]) -> Iterator[Callable[[], RawClient]]:
    made: list[RawClient] = []

    def make() -> RawClient:
        client = RawClient(Path(waitbus_env["WAITBUS_RUNTIME_DIR"]) / "broadcast.sock")
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


def hub_stats(runtime_dir: str) -> dict[str, object]:
    """One hub_stats frame (the hub's own count of its subscribers and counters)."""
    client = RawClient(Path(runtime_dir) / "broadcast.sock")
    try:
        from waitbus_wire import encode_frame

        client.send_raw(encode_frame(b'{"op":"stats"}'))
        frame = client.next(5)
        assert frame is not None and frame["kind"] == "hub_stats", frame
        return frame
    finally:
        client.close()


@pytest.fixture
def await_subscribers(waitbus_env: dict[str, str]) -> Callable[[int], None]:
    """Block until the hub reports at least n subscribers (a start-up barrier for
    tests whose subscriber runs in another process)."""

    def wait(n: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            count = hub_stats(waitbus_env["WAITBUS_RUNTIME_DIR"])["subscribers"]
            if isinstance(count, int) and count >= n:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"only {count} of {n} subscribers connected")
            time.sleep(0.02)

    return wait


def pytest_unconfigure(config: pytest.Config) -> None:
    """The run's very last line: how many tests skipped, grouped by reason (each reason
    names the peer to install or the script that installs it)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None or not hasattr(reporter, "stats"):
        return
    reasons: dict[str, int] = {}
    for report in reporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr).removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    if not reasons:
        reporter.write_line("waitbus: nothing skipped")
        return
    parts = [f"{n} x {why}" for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])]
    reporter.write_line(f"waitbus: {sum(reasons.values())} skipped: " + "; ".join(parts))

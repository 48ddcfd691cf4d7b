"""A private podman (the Docker Engine API) with its own storage, run dir and socket, the
docker source's runner as a real subprocess, and the rows it stores: shared by
integration/sources/test_src_docker.py and the fault tests. Skips only when
podman/runc/busybox are not installed (tools/peers/docker.sh installs them) or podman
cannot run a container here."""

from __future__ import annotations

import functools
import http.client
import json
import os
import re
import shutil
import signal
import socket as socketlib
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

IMAGE = "localhost/waitbus-test:latest"
RUNNER_CODE = "import sys; from waitbus_sources_docker import SOURCE; sys.exit(SOURCE.runner(sys.argv[1:]))"
REPORTED = {"start", "die", "stop", "kill", "oom", "health_status"}
WAIT = 90.0  # generous: podman on 2 busy cores can take seconds per container


class CannotRun(Exception):
    pass


class Podman:
    """One private podman: its own storage (vfs), run dir, events log and API socket(s)."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.socket = base / "podman.sock"
        self.conf = base / "containers.conf"
        self.env = {**os.environ, "CONTAINERS_CONF": str(self.conf)}
        self.argv = [
            shutil.which("podman") or "podman",
            "--runtime",
            shutil.which("runc") or "runc",
            "--cgroup-manager",
            "cgroupfs",  # crun and the systemd cgroup manager fail in this sandbox
            "--root",
            str(base / "root"),
            "--runroot",
            str(base / "run"),
            "--storage-driver",
            "vfs",  # no mounts to leak: the temp dir can simply be deleted
        ]
        self.services: dict[Path, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def setup(self) -> None:
        self.conf.write_text(
            "[containers]\n"
            "default_ulimits = []\n"  # the sandbox refuses podman's default nofile/nproc limits
            "[engine]\n"
            'events_logger = "file"\n'
            f'events_logfile_path = "{self.base}/events.log"\n'
            f'tmp_dir = "{self.base}/tmp"\n'
        )
        rootfs = self.base / "rootfs"
        (rootfs / "bin").mkdir(parents=True)
        shutil.copy2("/bin/busybox", rootfs / "bin" / "busybox")
        for applet in ("sh", "sleep", "echo", "true", "false", "test"):
            (rootfs / "bin" / applet).symlink_to("busybox")
        (rootfs / "tmp").mkdir()
        tar = self.base / "image.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tar), "."], check=True, timeout=60)
        for args in (["import", str(tar), IMAGE], ["run", "--rm", "--network", "none", IMAGE, "true"]):
            done = self.cli(*args, check=False)
            if done.returncode != 0:
                raise CannotRun(f"podman {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()[-500:]}")

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.argv, *args], capture_output=True, text=True, env=self.env, timeout=timeout, check=check
        )

    def start_service(self, socket: Path | None = None) -> Path:
        socket = socket or self.socket
        log = open(self.base / f"{socket.stem}.log", "ab")  # noqa: SIM115 - the child keeps it
        proc = subprocess.Popen(
            [*self.argv, "system", "service", "--time=0", f"unix://{socket}"],
            stdout=log,
            stderr=log,
            env=self.env,
        )
        log.close()
        self.services[socket] = proc
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise CannotRun(f"podman system service exited {proc.returncode}")
            # A plain connect first: the docker SDK leaks its socket when a connect fails.
            if _listening(socket):
                try:
                    self.client(socket).close()  # creating a client asks the API version
                    return socket
                except Exception:
                    pass
            time.sleep(0.1)
        raise CannotRun("podman system service did not answer within 60 s")

    def stop_service(self, socket: Path | None = None) -> None:
        proc = self.services.pop(socket or self.socket)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)

    def client(self, socket: Path | None = None) -> Any:
        import docker

        return docker.DockerClient(base_url=f"unix://{socket or self.socket}", timeout=120)

    def teardown(self) -> None:
        for socket in list(self.services):
            self.stop_service(socket)
        try:
            self.cli("rm", "--all", "--force", "--time", "0", check=False)
        except subprocess.TimeoutExpired:
            pass
        self._kill_leftovers()
        shutil.rmtree(self.base, ignore_errors=True)

    def _kill_leftovers(self) -> None:
        """podman's exec sessions leave a conmon behind for 5 minutes (--exit-delay 300, so
        an API client can still read the exit code); end those of this podman, by pid."""
        mark = str(self.base).encode()
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if mark in (proc / "cmdline").read_bytes():
                    os.kill(int(proc.name), signal.SIGKILL)
            except (OSError, ValueError):
                pass  # gone already, or not ours to read


def _listening(path: Path) -> bool:
    with socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM) as s:
        try:
            s.connect(str(path))
        except OSError:
            return False
    return True


@pytest.fixture(scope="session")
def podman() -> Iterator[Podman]:
    missing = [n for n in ("podman", "runc") if shutil.which(n) is None]
    missing += [] if Path("/bin/busybox").exists() else ["busybox-static"]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: run tools/peers/docker.sh (apt-get, as root)")
    peer = Podman(Path(tempfile.mkdtemp(prefix="wbpd-")))  # short: AF_UNIX paths max 107 bytes
    try:
        peer.setup()
        peer.start_service()
    except CannotRun as exc:
        peer.teardown()
        pytest.skip(f"podman cannot run containers here: {exc}")
    yield peer
    peer.teardown()


@pytest.fixture
def containers(podman: Podman) -> Iterator[Callable[..., Any]]:
    """run(name_hint, cmd, **kw) -> a started container (removed when the test ends)."""
    made: list[tuple[Any, Path]] = []
    clients: dict[Path, Any] = {}

    def run(hint: str, cmd: list[str], *, socket: Path | None = None, **kw: Any) -> Any:
        socket = socket or podman.socket
        client = clients.get(socket) or clients.setdefault(socket, podman.client(socket))
        name = f"wb-{hint}-{uuid.uuid4().hex[:6]}"
        c = client.containers.run(
            IMAGE, cmd, detach=True, network_mode="none", name=name, labels={"waitbus.test": hint}, **kw
        )
        made.append((c, socket))
        return c

    yield run
    for c, socket in made:
        if not _listening(socket):
            continue  # its service is stopped (and a failed SDK connect leaks a socket): session teardown
        try:
            c.remove(force=True)
        except Exception:
            pass  # already gone
    for client in clients.values():
        client.close()


@functools.cache
def runner_argv() -> tuple[str, ...]:
    """`waitbus source docker` once the CLI door lists the source; until then the runner itself."""
    waitbus = Path(sys.executable).with_name("waitbus")
    if waitbus.exists():
        listed = subprocess.run([str(waitbus), "source", "list"], capture_output=True, text=True, timeout=60)
        if listed.returncode == 0 and re.search(r"^\s*docker\b", listed.stdout, re.MULTILINE):
            return (str(waitbus), "source", "docker")
    return (sys.executable, "-c", RUNNER_CODE)


class Runner:
    """One `waitbus source docker` subprocess; stderr (its log) goes to a file."""

    def __init__(self, tmp: Path, host: str, reap: Callable[[Any], Any], *args: str) -> None:
        self.log_path = tmp / f"runner-{uuid.uuid4().hex[:6]}.log"
        log = open(self.log_path, "wb")  # noqa: SIM115 - the child keeps it
        self.proc = reap(
            subprocess.Popen(
                [*runner_argv(), *args],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "DOCKER_HOST": host},
            )
        )
        log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_log(self, text: str, timeout: float = WAIT, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while self.log().count(text) < count:
            assert self.proc.poll() is None, f"runner exited {self.proc.returncode}:\n{self.log()}"
            assert time.monotonic() < deadline, f"no {text!r} x{count} in the runner log:\n{self.log()}"
            time.sleep(0.1)

    def stop(self, sig: int = signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        return int(self.proc.wait(60))

    def emitted(self) -> list[str]:
        return [line.split("emitted: ", 1)[1] for line in self.log().splitlines() if "emitted: " in line]


@pytest.fixture
def start_runner(podman: Podman, tmp_path: Path, reap: Callable[[Any], Any]) -> Callable[..., Runner]:
    def start(*args: str, host: str | None = None, connected: bool = True) -> Runner:
        runner = Runner(tmp_path, host or podman.url, reap, *args)
        if connected:
            runner.wait_log("connected to the Docker engine")
        return runner

    return start


def stored() -> list[dict[str, Any]]:
    """Every docker event in this test's log: fields plus delivery_id and summary."""
    from waitbus_store import resolve_paths

    db = resolve_paths().db
    if not db.exists():
        return []
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=10)
    try:
        rows = conn.execute(
            "SELECT delivery_id, summary, fields FROM events WHERE source = 'docker' ORDER BY seq"
        ).fetchall()
    except sqlite3.OperationalError:
        return []  # the first emit is still creating the schema
    finally:
        conn.close()
    return [{**json.loads(f), "delivery_id": d, "summary": s} for d, s, f in rows]


def wait_stored(
    done: Callable[[list[dict[str, Any]]], bool], runner: Runner, timeout: float = WAIT
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = stored()
        if done(rows):
            return rows
        assert time.monotonic() < deadline, f"not stored in {timeout}s; have {rows}\nrunner log:\n{runner.log()}"
        time.sleep(0.1)


def of(rows: list[dict[str, Any]], container: Any) -> list[dict[str, Any]]:
    return [r for r in rows if r["container_id"] == container.id]


def has(container: Any, action: str, **fields: Any) -> Callable[[list[dict[str, Any]]], bool]:
    def check(rows: list[dict[str, Any]]) -> bool:
        return any(r["action"] == action and all(r[k] == v for k, v in fields.items()) for r in of(rows, container))

    return check


def engine_events(podman: Podman, container: Any, since: int) -> list[dict[str, Any]]:
    """What the engine itself reports for one container, straight from its /events.

    `stream=false` (a podman parameter the docker SDK does not pass) reads the events log
    to its end and returns. The SDK's way, an `until` a moment ahead, races: podman stops
    reading at `until` wherever it is in the log, so on a busy box a long log read late
    came back empty."""
    query = urllib.parse.urlencode(
        {
            "since": str(since),
            "stream": "false",
            "filters": json.dumps({"type": ["container"], "container": [container.id]}),
        }
    )
    conn = _UnixHTTPConnection(podman.socket)
    try:
        conn.request("GET", f"/events?{query}")
        response = conn.getresponse()
        body = response.read().decode()
        assert response.status == 200, f"GET /events: {response.status} {body[:500]}"
    finally:
        conn.close()
    events = [json.loads(line) for line in body.splitlines() if line.strip()]
    return [e for e in events if e.get("Action", "").split(":")[0] in REPORTED]


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=120)
        self.path = path

    def connect(self) -> None:
        self.sock = socketlib.socket(socketlib.AF_UNIX, socketlib.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.path))

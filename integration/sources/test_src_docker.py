"""`waitbus source docker` against a real Docker Engine API: podman's compatible service.

The session starts its own podman (storage, run dir, events log and API socket all under
one temp dir, so nothing on the machine is touched), imports a busybox image built from
/bin/busybox (no registry is reachable), and runs real containers through the docker
SDK. The runner is a real subprocess writing to this test's own event log. Skips only
when podman/runc/busybox are not installed (tools/peers/docker.sh installs them) or
podman cannot run a container here.
"""

from __future__ import annotations

import functools
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
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.slow]

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
    """What the engine itself reports for one container, straight from its /events."""
    client = podman.client()
    try:
        stream = client.events(
            decode=True,
            since=since,
            until=int(time.time()) + 1,
            filters={"type": "container", "container": container.id},
        )
        return [e for e in stream if e.get("Action", "").split(":")[0] in REPORTED]
    finally:
        client.close()


# -- the tests ---------------------------------------------------------------------------------


@pytest.mark.timeout(240)
def test_container_exit_code_reaches_the_bus(
    containers: Callable[..., Any], start_runner: Callable[..., Runner]
) -> None:
    runner = start_runner()
    c = containers("exit3", ["sh", "-c", "exit 3"])
    assert c.wait(timeout=120)["StatusCode"] == 3
    rows = wait_stored(has(c, "die"), runner)
    mine = of(rows, c)
    assert [r["action"] for r in mine] == ["start", "die"]
    # a first run starts from now: earlier tests' containers, in this engine's log, are not replayed
    assert rows == mine
    die = mine[1]
    assert die["exit_code"] == 3
    assert die["container"] == c.name and die["image"] == IMAGE
    assert die["labels"] == {"waitbus.test": "exit3"}
    assert die["summary"] == f"docker die {c.name} (exit 3)"
    assert die["delivery_id"] == f"{c.id}:die:{die['time_ns']}"
    assert die["event_type"] == "docker_container" and die["source"] == "docker"
    assert mine[0]["time_ns"] < die["time_ns"] and mine[0]["exit_code"] is None
    assert runner.stop() == 0


@pytest.mark.timeout(240)
def test_stop_and_kill_are_reported_as_the_engine_reports_them(
    podman: Podman, containers: Callable[..., Any], start_runner: Callable[..., Runner]
) -> None:
    runner = start_runner()
    since = int(time.time()) - 1
    stopped = containers("stop", ["sleep", "300"])
    killed = containers("kill", ["sleep", "300"])
    wait_stored(lambda rows: has(stopped, "start")(rows) and has(killed, "start")(rows), runner)
    stopped.stop(timeout=1)  # sleep as pid 1 ignores SIGTERM: the engine escalates to SIGKILL
    killed.kill(signal="SIGKILL")
    for c in (stopped, killed):
        c.wait(timeout=120)
        wait_stored(has(c, "die"), runner)
        engine = {(e["Action"], e["timeNano"]) for e in engine_events(podman, c, since)}
        assert "die" in {a for a, _ in engine}, engine
        rows = wait_stored(
            lambda rows, c=c, engine=engine: {(r["action"], r["time_ns"]) for r in of(rows, c)} == engine, runner
        )
        (die,) = [r for r in of(rows, c) if r["action"] == "die"]
        assert die["exit_code"] in (137, 143)
    # podman reports `kill` for an API kill (without the signal number Docker adds); what
    # it reports for a stop depends on the version, and the test above took whatever it said.
    assert has(killed, "kill", signal=None)(stored())
    assert runner.stop(signal.SIGINT) == 130


@pytest.mark.timeout(240)
def test_health_changes_are_reported_once_each(
    podman: Podman, containers: Callable[..., Any], start_runner: Callable[..., Runner]
) -> None:
    runner = start_runner()
    since = int(time.time()) - 1
    hour = 3600 * 10**9  # podman schedules checks with systemd timers (absent here): run them by hand
    c = containers(
        "health",
        ["sleep", "300"],
        healthcheck={"test": ["CMD-SHELL", "test -e /tmp/ok"], "interval": hour, "timeout": 10**10, "retries": 1},
    )
    wait_stored(has(c, "start"), runner)
    assert podman.cli("healthcheck", "run", c.id, check=False).returncode == 1
    wait_stored(has(c, "health_status", health="unhealthy"), runner)
    assert c.exec_run(["sh", "-c", ": > /tmp/ok"]).exit_code == 0
    for _ in range(2):  # healthy twice: podman reports each check, only the change is an event
        assert podman.cli("healthcheck", "run", c.id, check=False).returncode == 0
    wait_stored(has(c, "health_status", health="healthy"), runner)
    c.kill()
    rows = wait_stored(has(c, "die"), runner)
    engine = [e for e in engine_events(podman, c, since) if e["Action"].startswith("health_status")]
    if not engine:
        pytest.skip("this podman emits no health_status events; the runner then has none to report")
    assert len(engine) == 3, engine
    assert [r["health"] for r in of(rows, c) if r["action"] == "health_status"] == ["unhealthy", "healthy"]
    assert runner.stop() == 0


@pytest.mark.timeout(300)
def test_restart_with_saved_cursor_misses_nothing_and_repeats_nothing(
    podman: Podman, containers: Callable[..., Any], start_runner: Callable[..., Runner]
) -> None:
    first = start_runner()
    a = containers("before", ["sh", "-c", "exit 0"])
    a.wait(timeout=120)
    wait_stored(has(a, "die"), first)
    assert first.stop() == 0
    from waitbus_store import resolve_paths

    cursor = json.loads((resolve_paths().state_dir / "docker-events.json").read_text())
    (a_die,) = [r for r in of(stored(), a) if r["action"] == "die"]
    assert cursor["time_ns"] >= a_die["time_ns"]

    down = containers("while-down", ["sh", "-c", "exit 4"])  # runs start to end with no runner
    assert down.wait(timeout=120)["StatusCode"] == 4
    second = start_runner()
    wait_stored(has(down, "die", exit_code=4), second)
    after = containers("after", ["sh", "-c", "exit 0"])
    after.wait(timeout=120)
    rows = wait_stored(has(after, "die"), second)
    assert second.stop() == 0

    assert [r["action"] for r in of(rows, a)] == ["start", "die"]
    assert [r["action"] for r in of(rows, down)] == ["start", "die"]
    assert [r["action"] for r in of(rows, after)] == ["start", "die"]
    # Not merely deduplicated by the log: the restarted runner never re-emitted a's events.
    assert not [s for s in second.emitted() if a.name in s], second.log()
    assert "already stored" not in first.log() + second.log()
    assert len(rows) == len({r["delivery_id"] for r in rows})


@pytest.mark.timeout(300)
def test_engine_restart_reconnects_and_catches_up(
    podman: Podman, containers: Callable[..., Any], start_runner: Callable[..., Runner]
) -> None:
    runner = start_runner()
    before = containers("pre-restart", ["sh", "-c", "exit 5"])
    before.wait(timeout=120)
    wait_stored(has(before, "die", exit_code=5), runner)

    podman.stop_service()
    runner.wait_log("lost the Docker engine")
    runner.wait_log("cannot reach the Docker engine")  # it is retrying, with nothing to talk to
    name = f"wb-engine-down-{uuid.uuid4().hex[:6]}"
    ran = podman.cli("run", "--name", name, "--network", "none", IMAGE, "sh", "-c", "exit 6", check=False)
    assert ran.returncode == 6, ran.stderr  # podman needs no daemon: this is logged while the API is down
    podman.start_service()
    runner.wait_log("reconnected to the Docker engine")
    client = podman.client()
    down = client.containers.get(name)
    later = containers("post-restart", ["sh", "-c", "exit 7"])
    later.wait(timeout=120)
    rows = wait_stored(
        lambda rows: has(down, "die", exit_code=6)(rows) and has(later, "die", exit_code=7)(rows), runner
    )
    down.remove(force=True)
    client.close()
    assert runner.stop() == 0
    for c in (before, down, later):
        assert [r["action"] for r in of(rows, c)] == ["start", "die"], of(rows, c)
    assert "already stored" not in runner.log()
    assert len(runner.emitted()) == len(set(runner.emitted())) == len(rows)


@pytest.mark.timeout(240)
def test_runner_started_before_the_engine_keeps_retrying_then_streams(
    podman: Podman, containers: Callable[..., Any], start_runner: Callable[..., Runner]
) -> None:
    late = podman.base / f"late-{uuid.uuid4().hex[:4]}.sock"
    runner = start_runner(host=f"unix://{late}", connected=False)
    runner.wait_log("cannot reach the Docker engine", count=2)
    podman.start_service(late)  # a second API service over the same storage
    try:
        runner.wait_log("connected to the Docker engine")
        c = containers("late", ["sh", "-c", "exit 9"], socket=late)
        c.wait(timeout=120)
        wait_stored(has(c, "die", exit_code=9), runner)
        assert runner.stop() == 0
    finally:
        podman.stop_service(late)


@pytest.mark.timeout(240)
def test_readme_wait_example_is_unblocked_by_a_container_exit(
    hub: Any,
    await_subscribers: Callable[[int], None],
    reap: Callable[[Any], Any],
    containers: Callable[..., Any],
    start_runner: Callable[..., Runner],
) -> None:
    waitbus = str(Path(sys.executable).with_name("waitbus"))
    readme = [waitbus, "wait", "--source", "docker", "--match", 'fields.event_type="docker_container"']
    exited = [waitbus, "wait", "--source", "docker", "--match", 'fields.action="die"', "--json"]
    runner = start_runner()
    waits = [
        reap(subprocess.Popen([*cmd, "--timeout", "30s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        for cmd in (readme, exited)
    ]
    await_subscribers(2)
    c = containers("readme", ["sh", "-c", "exit 3"])
    c.wait(timeout=120)
    outs = [w.communicate(timeout=60) for w in waits]
    assert [w.returncode for w in waits] == [0, 0], outs
    first_line = outs[0][0].decode()
    assert "docker/docker_container" in first_line and c.name in first_line
    event = json.loads(outs[1][0])
    assert event["fields"]["exit_code"] == 3 and event["fields"]["container"] == c.name
    assert event["summary"] == f"docker die {c.name} (exit 3)"
    assert runner.stop() == 0

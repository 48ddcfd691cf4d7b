"""`waitbus source docker` against a real Docker Engine API: podman's compatible service.

The session starts its own podman (storage, run dir, events log and API socket all under
one temp dir, so nothing on the machine is touched), imports a busybox image built from
/bin/busybox (no registry is reachable), and runs real containers through the docker
SDK. The runner is a real subprocess writing to this test's own event log. Skips only
when podman/runc/busybox are not installed (tools/peers/docker.sh installs them) or
podman cannot run a container here.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support.docker import (
    IMAGE,
    WAIT,
    Podman,
    Runner,
    engine_events,
    has,
    of,
    stored,
    wait_stored,
)

pytestmark = [pytest.mark.slow]

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
        # As long as the helpers give podman per container (WAIT): it can take seconds here.
        reap(subprocess.Popen([*cmd, "--timeout", f"{WAIT:g}s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        for cmd in (readme, exited)
    ]
    await_subscribers(2)
    c = containers("readme", ["sh", "-c", "exit 3"])
    c.wait(timeout=120)
    outs = [w.communicate(timeout=WAIT + 60) for w in waits]
    assert [w.returncode for w in waits] == [0, 0], outs
    first_line = outs[0][0].decode()
    assert "docker/docker_container" in first_line and c.name in first_line
    event = json.loads(outs[1][0])
    assert event["fields"]["exit_code"] == 3 and event["fields"]["container"] == c.name
    assert event["summary"] == f"docker die {c.name} (exit 3)"
    assert runner.stop() == 0

"""examples/snippets/go/subscribe.go and examples/snippets/rust/subscribe.rs, compiled from
source and run against a real hub. Each language is skipped when its toolchain (`go`,
`rustc`) is not on this machine: the Node.js snippet is the one always tested."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from waitbus import emit

SNIPPETS = Path(__file__).resolve().parents[1] / "examples" / "snippets"


def _rustc() -> str | None:
    found = shutil.which("rustc")
    if found is None and (Path.home() / ".cargo" / "bin" / "rustc").is_file():
        found = str(Path.home() / ".cargo" / "bin" / "rustc")
    return found


class Snippet(NamedTuple):
    lang: str
    path: str

    def flag(self, name: str) -> str:
        return f"-{name}" if self.lang == "go" else f"--{name}"  # Go's flag package: one dash


@pytest.fixture(scope="module", params=["go", "rust"])
def binary(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Snippet:
    out = tmp_path_factory.mktemp(request.param) / "subscribe"
    env = os.environ.copy()
    if request.param == "go":
        go = shutil.which("go")
        if go is None:
            pytest.skip("go is not installed")
        env.update(GOCACHE=str(out.parent / "cache"), GOFLAGS="", GOTOOLCHAIN="local", GO111MODULE="off")
        cmd = [go, "build", "-o", str(out), str(SNIPPETS / "go" / "subscribe.go")]
    else:
        rustc = _rustc()
        if rustc is None:
            pytest.skip("rustc is not installed")
        cmd = [rustc, "--edition", "2021", "-O", str(SNIPPETS / "rust" / "subscribe.rs"), "-o", str(out)]
    built = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert built.returncode == 0, built.stderr
    return Snippet(request.param, str(out))


def start(reap, binary: Snippet, *args: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([binary.path, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reap(proc)
    return proc


def lines(proc: subprocess.Popen[str]) -> tuple[int, list[dict[str, Any]], str, str]:
    out, err = proc.communicate(timeout=20)
    return proc.returncode, [json.loads(line) for line in out.splitlines()], out, err


@pytest.mark.timeout(120)
def test_source_filter_heartbeats_and_exact_bytes(hub, reap, await_subscribers, binary):
    proc = start(reap, binary, binary.flag("source"), "pytest", binary.flag("count"), "2")
    await_subscribers(1)
    time.sleep(1.3)  # a heartbeat (every second here) must be ignored
    emit("docker", "docker_container", fields={"action": "die"})
    a = emit("pytest", "pytest_session", fields={"outcome": "failed", "note": 'a "quote"'}).event_id
    b = emit("pytest", "pytest_session", fields={"outcome": "passed"}).event_id
    rc, events, out, err = lines(proc)
    assert rc == 0, err
    assert [e["event_id"] for e in events] == [a, b]
    assert events[0]["fields"]["note"] == 'a "quote"'
    assert f'"received_at":{events[0]["received_at"]}' in out
    assert "subscribed" in err


@pytest.mark.timeout(120)
def test_match_and_since(hub, reap, await_subscribers, binary):
    first = emit("pytest", "pytest_session", fields={"outcome": "failed"}).event_id
    replayed = emit("pytest", "pytest_session", fields={"outcome": "failed"}).event_id
    emit("pytest", "pytest_session", fields={"outcome": "passed"})
    proc = start(
        reap,
        binary,
        binary.flag("match"),
        'fields.outcome="failed"',
        binary.flag("since"),
        first,
        binary.flag("count"),
        "2",
    )
    await_subscribers(1)
    live = emit("pytest", "pytest_session", fields={"outcome": "failed"}).event_id
    rc, events, _, err = lines(proc)
    assert rc == 0, err
    assert [e["event_id"] for e in events] == [replayed, live]


@pytest.mark.timeout(120)
def test_hub_gone_is_1_and_no_hub_is_2(hub, reap, await_subscribers, binary):
    proc = start(reap, binary)
    await_subscribers(1)
    hub.kill()
    rc, events, _, err = lines(proc)
    assert (rc, events) == (1, []) and "the hub closed the connection" in err
    rc, events, _, err = lines(start(reap, binary))
    assert (rc, events) == (2, []) and "cannot reach the hub" in err

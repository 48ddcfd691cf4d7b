"""examples/snippets/node/subscribe.mjs, a hand-written v1 client in plain Node.js, against
a real hub: filtering with `where`, replay with `since`, heartbeats ignored, big frames,
exact bytes (nanosecond timestamps survive), socket-path resolution, hub loss."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from waitbus import emit
from waitbus_store import Store, resolve_paths

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")

SNIPPET = Path(__file__).resolve().parents[1] / "examples" / "snippets" / "node" / "subscribe.mjs"


def start(reap, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    assert NODE is not None
    proc = subprocess.Popen(
        [NODE, str(SNIPPET), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env if env is not None else os.environ.copy(),
    )
    reap(proc)
    return proc


def lines(proc: subprocess.Popen[str], timeout: float = 20) -> tuple[int, list[dict[str, Any]], list[str], str]:
    out, err = proc.communicate(timeout=timeout)
    raw = out.splitlines()
    return proc.returncode, [json.loads(line) for line in raw], raw, err


def stored(event_id: str) -> dict[str, Any]:
    """The event as the log holds it, in the wire's key order."""
    with Store(resolve_paths().db) as store:
        found = store.get(event_id)
    assert found is not None
    row = found[0]
    return {
        "kind": "event",
        "event_id": row.event_id,
        "event_type": row.event_type,
        "source": row.source,
        "owner": row.owner,
        "repo": row.repo,
        "received_at": row.received_at,
        "delivery_id": row.delivery_id,
        "summary": row.summary,
        "fields": json.loads(row.fields),
    }


@pytest.mark.timeout(60)
def test_source_filter_prints_exactly_the_matching_events_and_ignores_heartbeats(hub, reap, await_subscribers):
    proc = start(reap, "--source", "pytest", "--count", "2")
    await_subscribers(1)
    time.sleep(1.3)  # the hub heartbeats every second here: at least one reaches the client
    emit("docker", "docker_container", fields={"action": "die"})
    a = emit("pytest", "pytest_session", fields={"outcome": "failed", "failed": 2}, owner="octo", repo="hello").event_id
    emit("agent", "note", fields={"source_like": "pytest"})
    b = emit("pytest", "pytest_session", fields={"outcome": "passed"}).event_id
    rc, events, raw, err = lines(proc)
    assert rc == 0, err
    assert [e["event_id"] for e in events] == [a, b]
    assert events == [stored(a), stored(b)]
    # received_at is nanoseconds (beyond JavaScript's 2**53): the printed line keeps every digit.
    assert f'"received_at":{stored(a)["received_at"]}' in raw[0]
    assert err.startswith("subscribed (caught_up_at ")


@pytest.mark.timeout(60)
def test_no_filter_gets_every_event_in_commit_order(hub, reap, await_subscribers):
    proc = start(reap, "--count", "3")
    await_subscribers(1)
    ids = [emit(s, "thing", fields={"i": i}).event_id for i, s in enumerate(["fs", "docker", "github"])]
    rc, events, _, err = lines(proc)
    assert rc == 0, err
    assert [e["event_id"] for e in events] == ids
    assert [e["fields"]["i"] for e in events] == [0, 1, 2]


@pytest.mark.timeout(60)
def test_since_replays_then_goes_live(hub, reap, await_subscribers):
    first, second, third = (emit("pytest", "pytest_session", fields={"n": n}).event_id for n in range(3))
    proc = start(reap, "--since", first, "--count", "3")
    await_subscribers(1)
    live = emit("pytest", "pytest_session", fields={"n": 3}).event_id
    rc, events, _, err = lines(proc)
    assert rc == 0, err
    assert [e["event_id"] for e in events] == [second, third, live]  # since is exclusive
    assert f"caught_up_at {third}" in err


@pytest.mark.timeout(60)
def test_match_specs_and_source_are_anded(hub, reap, await_subscribers):
    proc = start(reap, "--source", "pytest", "--match", 'fields.outcome="failed"', "--count", "1")
    await_subscribers(1)
    emit("pytest", "pytest_session", fields={"outcome": "passed"})
    emit("github", "workflow_run", fields={"outcome": "failed"})
    want = emit("pytest", "pytest_session", fields={"outcome": "failed"}).event_id
    rc, events, _, err = lines(proc)
    assert rc == 0, err
    assert [e["event_id"] for e in events] == [want]


@pytest.mark.timeout(60)
def test_a_big_frame_arriving_in_pieces_is_reassembled(hub, reap, await_subscribers):
    proc = start(reap, "--count", "2")
    await_subscribers(1)
    blob = "é" * 20000 + '\n"quoted"\t'  # ~40 KB of UTF-8 with escapes: several reads
    big = emit("fs", "fs_change", fields={"blob": blob}).event_id
    small = emit("fs", "fs_change", fields={"n": 1}).event_id
    rc, events, _, err = lines(proc)
    assert rc == 0, err
    assert [e["event_id"] for e in events] == [big, small]
    assert events[0]["fields"]["blob"] == blob


@pytest.mark.timeout(60)
@pytest.mark.parametrize("how", ["xdg", "tmpdir"])
def test_socket_path_resolves_like_the_hub_without_waitbus_runtime_dir(hub, reap, await_subscribers, how):
    # Point the fallback location at the hub's runtime dir with a symlink.
    base = Path(tempfile.mkdtemp(prefix="wbn-"))
    try:
        env = {k: v for k, v in os.environ.items() if k not in ("WAITBUS_RUNTIME_DIR", "XDG_RUNTIME_DIR")}
        link = base / ("waitbus" if how == "xdg" else f"waitbus-{os.getuid()}")
        link.symlink_to(hub.socket.parent)
        env["XDG_RUNTIME_DIR" if how == "xdg" else "TMPDIR"] = str(base)
        proc = start(reap, "--count", "1", env=env)
        await_subscribers(1)
        want = emit("fs", "fs_change", fields={"how": how}).event_id
        rc, events, _, err = lines(proc)
        assert rc == 0, err
        assert [e["event_id"] for e in events] == [want]
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.timeout(60)
def test_hub_gone_is_exit_1(hub, reap, await_subscribers):
    proc = start(reap)
    await_subscribers(1)
    hub.kill()
    rc, events, _, err = lines(proc)
    assert (rc, events) == (1, [])
    assert "the hub closed the connection" in err


@pytest.mark.timeout(60)
def test_no_hub_is_exit_2(reap):
    rc, events, _, err = lines(start(reap))
    assert (rc, events) == (2, [])
    assert "cannot reach the hub at" in err and "broadcast.sock" in err


@pytest.mark.timeout(60)
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--bogus", "x"], "unknown argument --bogus"),
        (["--source"], "--source needs a value"),
        (["--count", "0"], "--count"),
    ],
)
def test_bad_arguments_are_exit_2(reap, args, message):
    rc, _, _, err = lines(start(reap, *args))
    assert rc == 2 and message in err

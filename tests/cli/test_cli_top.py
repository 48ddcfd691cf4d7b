"""`waitbus top`, run as the real console script: --once frames, the plain-line live
mode of a pipe, and the ANSI screen on a real pseudo-terminal."""

from __future__ import annotations

import os
import pty
import queue
import select
import signal
import subprocess
import threading
import time

import msgspec
import pytest

import waitbus
from tests._support import WAITBUS, run_cli
from waitbus_store import Store, resolve_paths
from waitbus_wire import encode_fields, encode_frame


def emit(source: str, event_type: str, summary: str | None = None, **fields: object) -> str:
    return waitbus.emit(source, event_type, fields=fields, summary=summary).event_id


def fleet() -> None:
    """Several entities, most with more than one event; the last event of each wins."""
    emit("github", "workflow_run", "run 11 queued", run_id=11, status="queued", conclusion=None)
    emit("docker", "docker_container", "web started", container="web", action="start")
    emit("pytest", "pytest_session", "tests failed", rootdir="/src/app", outcome="failed", failed=2)
    emit("github", "workflow_run", "run 11 running", run_id=11, status="in_progress", conclusion=None)
    emit("agent", "agent_message", "a -> b", msg_thread="t-9", msg_from="a", msg_to="b")
    emit("docker", "docker_container", "web died", container="web", action="die", exit_code=137)
    emit("pytest", "pytest_session", "tests passed", rootdir="/src/app", outcome="passed", failed=0)
    emit("github", "workflow_run", "run 11 failed", run_id=11, status="completed", conclusion="failure")


def subscribers(raw_client) -> int:
    client = raw_client()
    client.send_raw(encode_frame(msgspec.json.encode({"op": "stats"})))
    reply = client.next(5)
    assert reply is not None and reply["kind"] == "hub_stats", reply
    client.close()
    return int(reply["subscribers"])


def wait_subscribed(raw_client, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while subscribers(raw_client) < 1:
        assert time.monotonic() < deadline, "top never subscribed"
        time.sleep(0.05)


def test_once_shows_one_row_per_entity_with_its_latest_state():
    fleet()
    out = run_cli("top", "--once", "--json")
    assert out.returncode == 0, out.stderr
    rows = msgspec.json.decode(out.stdout)
    got = [(r["entity"], r["state"], r["failed"], r["events"], r["summary"]) for r in rows]
    assert got == [  # newest update first
        ("ci run 11", "failure", True, 3, "run 11 failed"),
        ("test session /src/app", "passed", False, 2, "tests passed"),
        ("container web", "die (exit 137)", True, 2, "web died"),
        ("agent thread t-9", "a -> b", False, 1, "a -> b"),
    ]
    text = run_cli("top", "--once")
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["entity", "source", "state", "events", "last", "summary"]
    assert len(lines) == 2 + 4
    assert "\x1b[" not in text.stdout  # a pipe gets plain text
    assert lines[2].startswith("ci run 11") and "failure" in lines[2] and lines[2].endswith("run 11 failed")


def test_once_backfills_only_the_since_window_and_filters():
    resolve_paths().ensure()
    with Store(resolve_paths().db) as store:
        store.insert(
            source="docker",
            event_type="docker_container",
            fields=encode_fields("docker", "docker_container", {"container": "ancient", "action": "die"}),
            received_at=time.time_ns() - 3 * 3600 * 10**9,
        )
    fleet()
    default = [r["entity"] for r in msgspec.json.decode(run_cli("top", "--once", "--json").stdout)]
    assert "container ancient" not in default and len(default) == 4
    wide = [r["entity"] for r in msgspec.json.decode(run_cli("top", "--once", "--json", "--since", "1d").stdout)]
    assert wide[-1] == "container ancient" and len(wide) == 5
    docker = msgspec.json.decode(run_cli("top", "--once", "--json", "--since", "1d", "--source", "docker").stdout)
    assert [r["entity"] for r in docker] == ["container web", "container ancient"]


def test_once_with_no_store_is_an_empty_frame():
    out = run_cli("top", "--once", "--json")
    assert out.returncode == 0 and msgspec.json.decode(out.stdout) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--once", "--since", "a while"], "neither an event id"),
        (["--once", "--match", "x"], "has no '='"),
        ([], "broadcast serve"),
    ],
)
def test_bad_flags_and_no_hub_exit_2(args, message):
    out = run_cli("top", *args)
    assert out.returncode == 2 and message in out.stderr and "Traceback" not in out.stderr


def test_piped_top_prints_the_frame_then_one_line_per_update(hub, raw_client, reap):
    fleet()
    proc = reap(
        subprocess.Popen(
            [WAITBUS, "top"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
        )
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x.rstrip("\n")) for x in proc.stdout], daemon=True).start()
    frame = [lines.get(timeout=15) for _ in range(6)]
    assert frame[0].split()[0] == "entity" and frame[2].startswith("ci run 11")
    wait_subscribed(raw_client)
    emit("docker", "docker_container", "web restarted", container="web", action="start")
    update = lines.get(timeout=10)
    assert "container web  start  web restarted" in update
    proc.send_signal(signal.SIGINT)
    assert proc.wait(10) == 130
    assert "Traceback" not in proc.stderr.read()


def _read_pty(fd: int, until: bytes, timeout: float = 15) -> bytes:
    out = b""
    deadline = time.monotonic() + timeout
    while until not in out:
        left = deadline - time.monotonic()
        assert left > 0, f"never saw {until!r} in {out[-400:]!r}"
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    return out


def test_top_on_a_terminal_redraws_with_ansi_and_restores_the_screen(hub, raw_client, reap):
    fleet()
    main, child = pty.openpty()
    try:
        proc = reap(subprocess.Popen([WAITBUS, "top"], stdin=child, stdout=child, stderr=child, env=os.environ.copy()))
        os.close(child)
        child = -1
        first = _read_pty(main, b"run 11 failed")
        assert b"\x1b[?1049h" in first  # the alternate screen
        assert b"\x1b[31m" in first  # failed entities in red
        wait_subscribed(raw_client)
        emit("github", "workflow_run", "run 11 re-run passed", run_id=11, status="completed", conclusion="success")
        redraw = _read_pty(main, b"run 11 re-run passed")
        assert b"\x1b[H\x1b[2J" in redraw
        proc.send_signal(signal.SIGINT)
        rest = _read_pty(main, b"\x1b[?1049l")  # screen restored on the way out
        assert b"Traceback" not in rest
        assert proc.wait(10) == 130
    finally:
        os.close(main)
        if child >= 0:
            os.close(child)

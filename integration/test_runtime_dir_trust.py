"""Another local user must not be able to take over the runtime dir (issue 13 item 1).

The attacks run as a throwaway user (`nobody`, uid 65534) in forked children, as a
real second user on the box would: they prepare the default runtime dir
(`$TMPDIR/waitbus-<uid>`) before us with a symlink planted at `hub.lock`, or serve a
forged `broadcast.sock` answering every subscriber with a matching event. Before the
fix the hub wrote its pid through the symlink, `waitbus wait` exited 0 and `waitbus on`
ran its command on the forged event.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest

from tests._support import WAITBUS
from waitbus_wire import EventFrame, SubscribeAck, encode_frame, encode_message

NOBODY = 65534

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root to act as another user (nobody)"),
]


def _as_nobody(action: Callable[[], None]) -> None:
    """Run `action` in a forked child as uid/gid nobody; fail the test if it raised."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(r)
        msg = b""
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
        except BaseException as exc:
            msg = repr(exc).encode()
        os.write(w, msg)
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    with os.fdopen(r, "rb") as f:
        err = f.read()
    assert not err, f"the attacker's set-up failed: {err.decode()}"


def _forged_hub(path: str, *, drop_to_nobody_before_listen: bool) -> int:
    """A fork serving `path` as nobody: every client gets an ack, then a forged event
    that matches `fields.outcome="failed"`. Returns its pid (the caller kills it)."""
    pid = os.fork()
    if pid != 0:
        return pid
    try:  # pragma: no cover - the child
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if drop_to_nobody_before_listen:
            s.bind(path)  # as root, inside our own private dir...
            os.setgid(NOBODY)
            os.setuid(NOBODY)  # ...but the listening process (SO_PEERCRED's answer) is nobody
        else:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            s.bind(path)
            os.chmod(path, 0o777)
        s.listen(16)
        forged = EventFrame(
            event_id="01" + "Z" * 24,
            event_type="pytest_session",
            source="pytest",
            received_at=time.time_ns(),
            delivery_id="forged",
            summary="forged",
            fields={"source": "pytest", "event_type": "pytest_session", "outcome": "failed"},
        )
        reply = encode_frame(encode_message(SubscribeAck(caught_up_at=None))) + encode_frame(
            msgspec.json.encode(forged)
        )
        while True:
            conn, _ = s.accept()
            try:
                conn.recv(65536)
                conn.sendall(reply)
            except OSError:
                pass
    finally:
        os._exit(0)


@pytest.fixture
def attacker_pids() -> Iterator[list[int]]:
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


@pytest.fixture
def default_runtime() -> Iterator[tuple[dict[str, str], Path]]:
    """An environment whose runtime dir is the default `$TMPDIR/waitbus-<uid>`, with a
    world-writable sticky TMPDIR like /tmp that the attacker can reach; returns (env,
    that runtime dir)."""
    base = Path(tempfile.mkdtemp(prefix="wb-trust-"))
    os.chmod(base, 0o755)
    tmp = base / "tmp"
    tmp.mkdir()
    os.chmod(tmp, 0o1777)
    env = {k: v for k, v in os.environ.items() if k not in ("WAITBUS_RUNTIME_DIR", "XDG_RUNTIME_DIR")}
    env["TMPDIR"] = str(tmp)
    yield env, tmp / f"waitbus-{os.getuid()}"
    shutil.rmtree(base, ignore_errors=True)


def _run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def _consumers_refuse(env: dict[str, str], tmp_path: Path, why: str) -> None:
    """`wait` and `on` exit 2 saying `why` (the forged event never counts, the command
    never runs) and `status` calls the hub not alive, for the same reason."""
    wait = _run(env, WAITBUS, "wait", "--match", 'fields.outcome="failed"', "--timeout", "5s")
    assert wait.returncode == 2, (wait.returncode, wait.stdout, wait.stderr)
    assert why in wait.stderr and "forged" not in wait.stdout
    marker = tmp_path / "ran"
    on = _run(env, WAITBUS, "on", "--match", 'fields.outcome="failed"', "--timeout", "5s", "--", "touch", str(marker))
    assert on.returncode == 2 and why in on.stderr, (on.returncode, on.stderr)
    assert not marker.exists()
    hub_view = json.loads(_run(env, WAITBUS, "status", "--json").stdout)["hub"]
    assert hub_view["alive"] is False and why in hub_view["reason"]


def test_a_runtime_dir_prepared_by_another_user_is_refused_by_every_process(
    default_runtime: tuple[dict[str, str], Path], tmp_path: Path, attacker_pids: list[int]
) -> None:
    env, runtime = default_runtime
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")

    def prepare() -> None:
        os.mkdir(runtime)
        os.chmod(runtime, 0o777)
        os.symlink(victim, runtime / "hub.lock")

    _as_nobody(prepare)
    attacker_pids.append(_forged_hub(str(runtime / "broadcast.sock"), drop_to_nobody_before_listen=False))
    deadline = time.monotonic() + 10
    while not (runtime / "broadcast.sock").exists() and time.monotonic() < deadline:
        time.sleep(0.01)

    hub = _run(env, sys.executable, "-m", "waitbus_hub")
    assert hub.returncode == 2, hub.stderr
    for needed in (str(runtime), "uid 65534", "0777", "WAITBUS_RUNTIME_DIR"):
        assert needed in hub.stderr, hub.stderr
    assert victim.read_text() == "precious\n"  # no pid written through the symlink

    _consumers_refuse(env, tmp_path, "refusing runtime dir")

    # emit needs only the log: the event is kept (for a hub of ours to replay later),
    # and nothing is rung into the other user's dir.
    done = _run(env, WAITBUS, "emit", "agent", "kept")
    assert done.returncode == 0, done.stderr
    listed = _run(env, WAITBUS, "read-events", "list", "--source", "agent", "--json")
    assert "kept" in listed.stdout, listed


def test_a_hub_of_another_user_in_our_own_dir_is_refused_by_its_peer_uid(
    waitbus_env: dict[str, str], tmp_path: Path, attacker_pids: list[int]
) -> None:
    """The dir is ours and private, yet the process listening on broadcast.sock is
    another user's: only the kernel's peer credentials can tell."""
    runtime = Path(waitbus_env["WAITBUS_RUNTIME_DIR"])
    sock = runtime / "broadcast.sock"
    attacker_pids.append(_forged_hub(str(sock), drop_to_nobody_before_listen=True))
    deadline = time.monotonic() + 10
    while not sock.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    env = dict(os.environ)

    _consumers_refuse(env, tmp_path, "uid 65534")


def test_the_hub_never_writes_through_a_symlinked_lock(waitbus_env: dict[str, str], tmp_path: Path) -> None:
    runtime = Path(waitbus_env["WAITBUS_RUNTIME_DIR"])
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (runtime / "hub.lock").symlink_to(victim)
    hub = _run(dict(os.environ), sys.executable, "-m", "waitbus_hub")
    assert hub.returncode == 2, hub.stderr
    assert "hub.lock" in hub.stderr or "symbolic link" in hub.stderr.lower(), hub.stderr
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("mode", [0o755, 0o770, 0o701], ids=lambda m: f"{m:04o}")
def test_our_own_runtime_dir_open_to_others_is_refused_with_the_fix(waitbus_env: dict[str, str], mode: int) -> None:
    runtime = waitbus_env["WAITBUS_RUNTIME_DIR"]
    os.chmod(runtime, mode)
    try:
        hub = _run(dict(os.environ), sys.executable, "-m", "waitbus_hub")
        wait = _run(dict(os.environ), WAITBUS, "wait", "--timeout", "1s")
    finally:
        os.chmod(runtime, 0o700)
    for done in (hub, wait):
        assert done.returncode == 2, done.stderr
        assert f"mode {mode:04o}" in done.stderr and f"chmod 700 {runtime}" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_state_dir_of_another_user_is_refused_by_the_hub_emit_and_init(
    default_runtime: tuple[dict[str, str], Path], tmp_path: Path
) -> None:
    """A state dir in a shared place (WAITBUS_STATE_DIR=/tmp/..., a CI image's
    XDG_STATE_HOME) made first by another user, or a symlink of theirs to a dir of
    theirs: they could read the log or swap in one whose events the hub would deliver
    as ours. It used to be used as it was, only a loose dir of our own was tightened."""
    env, runtime = default_runtime
    shared = runtime.parent
    os.mkdir(runtime, 0o700)
    made, linked = shared / "state-made", shared / "state-linked"

    def prepare() -> None:
        os.mkdir(made)
        os.chmod(made, 0o777)
        theirs = shared / "theirs"
        os.mkdir(theirs)
        os.chmod(theirs, 0o777)
        os.symlink(theirs, linked)

    _as_nobody(prepare)
    for state in (made, linked):
        env_s = {**env, "WAITBUS_STATE_DIR": str(state), "WAITBUS_RUNTIME_DIR": str(runtime)}
        for args, code in (
            ((sys.executable, "-m", "waitbus_hub"), 2),
            ((WAITBUS, "emit", "agent", "x"), 4),
            ((WAITBUS, "init"), 2),
        ):
            done = _run(env_s, *args)
            assert done.returncode == code, (state, args, done.returncode, done.stderr)
            assert f"refusing state dir {state}" in done.stderr and "uid 65534" in done.stderr, done.stderr
        assert not any(p.name.startswith("events.db") for p in state.iterdir()), list(state.iterdir())

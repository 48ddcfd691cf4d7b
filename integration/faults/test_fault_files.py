"""Broken files and directories, and hubs racing each other, through the real doors:
the hub daemon, `waitbus emit`, the SDK, `waitbus listener serve`, `waitbus wait`.

Already proven elsewhere (not repeated here):
- integration/test_hub_guarantees.py::test_a_second_hub_refuses_to_start_and_says_why
  (a second hub started after the first one: exit 3, names the pid);
- integration/test_hub_guarantees.py::test_stale_socket_from_a_crash_is_replaced;
- tests/store/test_store_migrations.py: a foreign or too-new file refused by Store().
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from tests._support import faults as fh
from tests._support import github as gh
from waitbus import emit
from waitbus._hubinfo import hub_stats
from waitbus_store import StoreError, resolve_paths
from waitbus_wire import encode_frame, ulid_from_parts

TOKEN = "emit-token-for-the-file-tests"


def hub_cmd() -> list[str]:
    return [sys.executable, "-m", "waitbus_hub", "--log-level", "WARNING"]


# -- a corrupt or foreign event log -------------------------------------------------------


def _random_bytes(db: Path) -> None:
    db.write_bytes(os.urandom(40_000))


def _foreign_sqlite(db: Path) -> None:
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE notes (body TEXT)")
    conn.execute("INSERT INTO notes VALUES ('not ours')")
    conn.commit()
    conn.close()


def _torn_waitbus_log(db: Path) -> None:
    """A real waitbus log cut short (a bad copy, a disk error): its header is fine."""
    for i in range(300):
        emit("agent", "load", fields={"i": i, "pad": "x" * 200})
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    for side in ("-wal", "-shm"):
        Path(f"{db}{side}").unlink(missing_ok=True)
    os.truncate(db, 3 * 4096)


BROKEN = {
    "random-bytes": (_random_bytes, "is corrupt or not a SQLite file"),
    "foreign-sqlite": (_foreign_sqlite, "is not a waitbus event store"),
    "torn-waitbus-log": (_torn_waitbus_log, "is corrupt or not a SQLite file"),
}


@pytest.fixture
def broken_log(request: pytest.FixtureRequest) -> Iterator[tuple[Path, bytes, str]]:
    make, message = BROKEN[request.param]
    db = resolve_paths().ensure().db
    make(db)
    db.chmod(0o640)  # not our 0600: opening it must not "fix" that either
    yield db, db.read_bytes(), message


@pytest.mark.timeout(90)
@pytest.mark.parametrize("broken_log", list(BROKEN), indirect=True)
def test_a_corrupt_or_foreign_log_is_refused_by_every_door_and_left_untouched(
    broken_log: tuple[Path, bytes, str], tmp_path: Path
) -> None:
    db, before, message = broken_log
    hub = subprocess.run(hub_cmd(), capture_output=True, text=True, timeout=30)
    assert hub.returncode == 2
    assert hub.stderr.startswith("waitbus-hub: cannot start: ") and message in hub.stderr and str(db) in hub.stderr
    done = fh.cli("emit", "agent", "x")
    assert done.returncode == 4 and message in done.stderr and " away" in done.stderr
    with pytest.raises(StoreError, match=message):
        emit("agent", "x")
    init = fh.cli("init")
    assert init.returncode == 4 and message in init.stderr
    gh.stage_secret("emit-token", TOKEN)
    listener = gh.Listener(tmp_path)
    try:
        status, reply = listener.post(
            "/emit", b'{"source": "agent", "event_type": "x"}', {"Authorization": f"Bearer {TOKEN}"}
        )
    finally:
        listener.stop()
    assert status == 503 and message in reply["error"]
    assert db.read_bytes() == before  # not one byte changed
    assert stat.S_IMODE(db.stat().st_mode) == 0o640
    assert not Path(f"{db}-wal").exists() and not Path(f"{db}-shm").exists()


# -- a missing or unusable state or runtime dir --------------------------------------------


@pytest.mark.timeout(90)
def test_a_log_with_corrupt_pages_stops_the_hub_with_a_clear_message(raw_client: Callable[[], Any]) -> None:
    """The header is intact, so the hub opens the file; the first replay that reaches
    the damaged pages must stop it with exit 2 and the store's advice, once, rather
    than drop every client with a traceback while they reconnect for ever."""
    for i in range(3000):
        emit("agent", "load", fields={"i": i, "pad": "x" * 200})
    db = resolve_paths().db
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db, "r+b") as f:  # pages 20-60 of ~200: table pages, past the schema
        f.seek(20 * 4096)
        f.write(os.urandom(40 * 4096))
    proc = subprocess.Popen(hub_cmd(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        client = fh.wait_until(lambda: _connected(raw_client), "the hub to listen")
        client.send_raw(encode_frame(msgspec.json.encode({"since": ulid_from_parts(0, 0)})))
        deadline = time.monotonic() + 30
        while not client.eof and time.monotonic() < deadline:  # read the replay up to the damage
            client.next(1)
        assert proc.wait(30) == 2
    finally:
        if proc.poll() is None:
            proc.kill()
        out = proc.communicate(timeout=10)[0]
    assert "cannot read the event log, stopping" in out and "move it away and run `waitbus init`" in out, out
    assert "Traceback" not in out, out


def _connected(raw_client: Callable[[], Any]) -> Any:
    try:
        return raw_client()
    except OSError:  # not listening yet
        return None


@pytest.fixture
def unusable_dir(
    request: pytest.FixtureRequest, tmp_path: Path, tmpfs: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """(which, how): the state or runtime dir on a read-only filesystem (EROFS: even root
    cannot write), or below a regular file (ENOTDIR: it cannot be created)."""
    which, how = request.param
    if how == "read-only":
        bad = tmpfs(tmp_path / "ro", "1m", readonly=True)
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        bad = blocker / "dir"
    monkeypatch.setenv("WAITBUS_STATE_DIR" if which == "state" else "WAITBUS_RUNTIME_DIR", str(bad))
    return bad


UNUSABLE = [(which, how) for which in ("state", "runtime") for how in ("read-only", "under-a-file")]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("unusable_dir", UNUSABLE, indirect=True, ids=["-".join(u) for u in UNUSABLE])
def test_an_unusable_dir_stops_the_hub_emit_and_the_listener_with_a_clear_message(unusable_dir: Path) -> None:
    hub = subprocess.run(hub_cmd(), capture_output=True, text=True, timeout=30)
    assert hub.returncode == 2, hub.stderr
    assert hub.stderr.startswith("waitbus-hub: cannot start: ") and str(unusable_dir) in hub.stderr
    done = fh.cli("emit", "agent", "x")
    if os.environ["WAITBUS_STATE_DIR"] == str(unusable_dir):
        assert done.returncode == 4 and done.stderr.startswith("waitbus emit: ") and str(unusable_dir) in done.stderr
        assert "WAITBUS_" in done.stderr  # says what to set
    else:  # emit needs only the log: the event is kept for the hub to replay
        assert done.returncode == 0, done.stderr
        assert [r["event_type"] for r in fh.stored("agent")] == ["x"]
    listener = fh.cli("listener", "serve", "--port", "0", timeout=30)
    assert listener.returncode == 2
    assert "cannot store events" in listener.stderr and str(unusable_dir) in listener.stderr
    for out in (hub.stderr, done.stderr, listener.stderr):
        assert "Traceback" not in out
    for out in (hub.stderr, listener.stderr):
        assert "WAITBUS_" in out  # says what to set


@pytest.mark.timeout(60)
def test_missing_nested_dirs_are_created_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waitbus_env: dict[str, str], reap, raw_client
) -> None:
    state = tmp_path / "a" / "b" / "state"
    runtime = Path(waitbus_env["WAITBUS_RUNTIME_DIR"]) / "c" / "rt"  # short: an AF_UNIX path
    for name, path in (("WAITBUS_STATE_DIR", state), ("WAITBUS_RUNTIME_DIR", runtime)):
        monkeypatch.setenv(name, str(path))
        waitbus_env[name] = str(path)  # raw_client reads it when called
    hub = reap(subprocess.Popen(hub_cmd(), stderr=subprocess.DEVNULL))
    fh.wait_until(lambda: hub_stats(runtime / "broadcast.sock")[0] or hub.poll() is not None, "the hub to answer")
    assert hub.poll() is None
    client = raw_client()
    client.subscribe()
    done = fh.cli("emit", "agent", "x")
    assert done.returncode == 0, done.stderr
    assert [f["event_id"] for f in client.events(1)] == [done.stdout.strip()]
    assert stat.S_IMODE(state.stat().st_mode) == stat.S_IMODE(runtime.stat().st_mode) == 0o700

"""`waitbus read-events watch|list` and `waitbus replay`, run as the real console script."""

from __future__ import annotations

import os
import queue
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

HOUR_NS = 3600 * 10**9


def emit(source: str, event_type: str, summary: str | None = None, **fields: object) -> str:
    return waitbus.emit(source, event_type, fields=fields, summary=summary, owner="acme", repo="app").event_id


def old_row(source: str, event_type: str, age_s: float, **fields: object) -> str:
    """A stored event received `age_s` ago (insert these before newer ones)."""
    resolve_paths().ensure()
    with Store(resolve_paths().db) as store:
        got = store.insert(
            source=source,
            event_type=event_type,
            fields=encode_fields(source, event_type, fields),
            summary=f"{source} {event_type}",
            received_at=time.time_ns() - int(age_s * 1e9),
        )
    return got.event_id


class Tail:
    """A running `waitbus ...` whose stdout lines are read with a timeout."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [WAITBUS, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ.copy()
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def read(self, n: int, timeout: float = 10) -> list[str]:
        out: list[str] = []
        deadline = time.monotonic() + timeout
        while len(out) < n:
            try:
                out.append(self.lines.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                break
        return out

    def quiet(self, wait: float = 0.5) -> list[str]:
        time.sleep(wait)
        return self.read(1000, timeout=0.01)

    def interrupt(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGINT)
        code = self.proc.wait(10)
        assert self.proc.stderr is not None
        return code, self.proc.stderr.read()


@pytest.fixture
def tail(reap):
    def start(*args: str) -> Tail:
        t = Tail(*args)
        reap(t.proc)
        return t

    return start


def subscribers(raw_client) -> int:
    client = raw_client()
    client.send_raw(encode_frame(msgspec.json.encode({"op": "stats"})))
    reply = client.next(5)
    assert reply is not None and reply["kind"] == "hub_stats", reply
    client.close()
    return int(reply["subscribers"])


def wait_subscribed(raw_client, n: int = 1, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while subscribers(raw_client) < n:
        assert time.monotonic() < deadline, "the watcher never subscribed"
        time.sleep(0.05)


# -- watch -----------------------------------------------------------------------


def test_watch_prints_events_emitted_after_start_then_sigint_exits_130(hub, tail, raw_client):
    before = emit("agent", "early")
    watch = tail("read-events", "watch")
    wait_subscribed(raw_client)
    ids = [emit("pytest", "pytest_session", summary="tests passed", outcome="passed"), emit("docker", "x")]
    lines = watch.read(2)
    assert len(lines) == 2, lines
    assert [line.split()[-1] for line in lines] == ids
    assert "pytest/pytest_session  acme/app  tests passed" in lines[0]
    assert not any(before in line for line in lines + watch.quiet(0.3))
    code, err = watch.interrupt()
    assert code == 130
    assert "Traceback" not in err and "Aborted" not in err


def test_watch_json_with_source_and_match_filters(hub, tail, raw_client):
    watch = tail("read-events", "watch", "--json", "--source", "agent", "--match", "fields.n=2")
    wait_subscribed(raw_client)
    emit("agent", "ping", n=1)
    emit("pytest", "ping", n=2)
    wanted = emit("agent", "ping", n=2)
    got = [msgspec.json.decode(line) for line in watch.read(1)]
    assert [g["event_id"] for g in got] == [wanted]
    assert got[0]["fields"]["n"] == 2 and got[0]["source"] == "agent" and got[0]["owner"] == "acme"
    assert watch.quiet(0.3) == []
    assert watch.interrupt()[0] == 130


def test_watch_bookmark_resumes_across_runs(hub, tail, raw_client):
    first = tail("read-events", "watch", "--bookmark", "mine")
    wait_subscribed(raw_client)
    e1 = emit("agent", "one")
    assert [line.split()[-1] for line in first.read(1)] == [e1]
    assert first.interrupt()[0] == 130
    missed = [emit("agent", "two"), emit("agent", "three")]  # while nobody watches

    second = tail("read-events", "watch", "--bookmark", "mine")
    assert [line.split()[-1] for line in second.read(2)] == missed
    wait_subscribed(raw_client)
    e4 = emit("agent", "four")
    assert [line.split()[-1] for line in second.read(1)] == [e4]
    assert second.interrupt()[0] == 130
    with Store(resolve_paths().db) as store:
        assert store.get_bookmark("mine") == e4


def test_new_bookmark_starts_at_the_head_even_if_nothing_arrives(hub, tail, raw_client):
    emit("agent", "old")
    first = tail("read-events", "watch", "--bookmark", "fresh")
    wait_subscribed(raw_client)
    assert first.interrupt()[0] == 130
    later = emit("agent", "later")
    second = tail("read-events", "watch", "--bookmark", "fresh")
    assert [line.split()[-1] for line in second.read(1)] == [later]
    assert second.quiet(0.3) == []
    assert second.interrupt()[0] == 130


def test_watch_since_duration_replays_only_recent_events(hub, tail):
    old_row("agent", "stale", 2 * 3600)
    recent = emit("agent", "recent")
    watch = tail("read-events", "watch", "--since", "1h")
    assert [line.split()[-1] for line in watch.read(1)] == [recent]
    assert watch.quiet(0.3) == []
    assert watch.interrupt()[0] == 130


def test_watch_follows_the_hub_across_a_restart(hub_factory, tail, raw_client):
    first_hub = hub_factory(["--heartbeat-sec", "1"])
    watch = tail("read-events", "watch")
    wait_subscribed(raw_client)
    first_hub.kill()
    during = emit("agent", "while_down")  # the restarted hub replays it from the cursor
    hub_factory(["--heartbeat-sec", "1"])
    after = emit("agent", "after_restart")
    assert [line.split()[-1] for line in watch.read(2, timeout=30)] == [during, after]
    assert watch.interrupt()[0] == 130


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["read-events", "watch"], "waitbus broadcast serve"),
        (["read-events", "watch", "--match", "fields.status=ok"], "double quotes"),
        (["read-events", "watch", "--since", "yesterday"], "neither an event id"),
    ],
)
def test_watch_start_up_errors_exit_2(args, message):
    out = run_cli(*args)
    assert out.returncode == 2
    assert message in out.stderr and "Traceback" not in out.stderr


# -- list ------------------------------------------------------------------------


def test_list_since_1h_json_from_the_readme():
    old_row("pytest", "pytest_session", 2 * 3600, outcome="failed")
    ids = [emit("pytest", "pytest_session", outcome="passed", passed=3), emit("docker", "docker_container")]
    out = run_cli("read-events", "list", "--since", "1h", "--json")
    assert out.returncode == 0, out.stderr
    events = msgspec.json.decode(out.stdout)
    assert [e["event_id"] for e in events] == ids  # oldest first, the 2 h old row left out
    assert events[0]["fields"] == {"outcome": "passed", "passed": 3, "source": "pytest", "event_type": "pytest_session"}
    assert events[0]["time"].endswith("Z") and events[0]["received_at"] > 0
    assert set(events[0]) == {
        "event_id",
        "time",
        "received_at",
        "source",
        "event_type",
        "owner",
        "repo",
        "delivery_id",
        "summary",
        "fields",
    }


def test_list_limit_source_and_match():
    ids = [emit("agent", "tick", n=i) for i in range(6)]
    emit("pytest", "tick", n=5)
    newest_two = run_cli("read-events", "list", "--limit", "2", "--source", "agent")
    assert newest_two.returncode == 0
    assert [line.split()[-1] for line in newest_two.stdout.splitlines()] == ids[-2:]
    matched = msgspec.json.decode(run_cli("read-events", "list", "--match", "fields.n=5", "--json").stdout)
    assert sorted(e["source"] for e in matched) == ["agent", "pytest"]
    after = msgspec.json.decode(run_cli("read-events", "list", "--since", ids[3], "--source", "agent", "--json").stdout)
    assert [e["event_id"] for e in after] == ids[4:]


def test_list_with_no_store_prints_nothing_and_exits_0():
    assert not resolve_paths().db.exists()
    out = run_cli("read-events", "list", "--json")
    assert out.returncode == 0 and msgspec.json.decode(out.stdout) == []
    assert "no events stored yet" in out.stderr
    assert not resolve_paths().db.exists()  # reading never creates the store


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "1 fortnight"], "neither an event id"),
        (["--limit", "0"], "--limit"),
        (["--match", "nonsense"], "has no '='"),
    ],
)
def test_list_bad_flags_exit_2(args, message):
    emit("agent", "x")
    out = run_cli("read-events", "list", *args)
    assert out.returncode == 2 and message in out.stderr


def test_list_refuses_a_foreign_sqlite_file():
    import sqlite3

    db = resolve_paths().db
    db.parent.mkdir(parents=True)
    sqlite3.connect(db).executescript("CREATE TABLE other (x); INSERT INTO other VALUES (1);")
    out = run_cli("read-events", "list")
    assert out.returncode == 2 and "not a waitbus event store" in out.stderr


# -- replay ----------------------------------------------------------------------


def test_replay_since_prints_later_events_in_commit_order_and_exits():
    ids = [emit("agent", "step", n=i) for i in range(5)]
    out = run_cli("replay", "--since", ids[1])
    assert out.returncode == 0, out.stderr
    assert [line.split()[-1] for line in out.stdout.splitlines()] == ids[2:]
    everything = [msgspec.json.decode(line) for line in run_cli("replay", "--json").stdout.splitlines()]
    assert [e["event_id"] for e in everything] == ids
    assert [e["fields"]["n"] for e in everything] == [0, 1, 2, 3, 4]


def test_replay_bookmark_prints_only_new_events_the_second_time():
    ids = [emit("agent", "a"), emit("agent", "b"), emit("agent", "c")]
    first = run_cli("replay", "--since", ids[0], "--bookmark", "job")
    assert [line.split()[-1] for line in first.stdout.splitlines()] == ids[1:]
    again = run_cli("replay", "--since", ids[0], "--bookmark", "job")
    assert again.returncode == 0 and again.stdout == ""
    new = [emit("agent", "d"), emit("pytest", "e")]
    third = run_cli("replay", "--since", ids[0], "--bookmark", "job", "--source", "agent")
    assert [line.split()[-1] for line in third.stdout.splitlines()] == new[:1]
    with Store(resolve_paths().db) as store:
        # The cursor passes filtered-out events too: they are not rescanned next time.
        assert store.get_bookmark("job") == new[-1]


def test_replay_coalesce_keeps_the_newest_event_per_entity():
    emit("github", "workflow_run", run_id=7, status="in_progress", conclusion=None)
    emit("docker", "docker_container", container="web", action="start")
    job = emit("github", "workflow_job", run_id=7, job_id=70, status="completed", conclusion="success")
    run_done = emit("github", "workflow_run", run_id=7, status="completed", conclusion="failure")
    emit("pytest", "pytest_session", rootdir="/src/a", outcome="failed")
    other_run = emit("github", "workflow_run", run_id=8, status="queued", conclusion=None)
    web_died = emit("docker", "docker_container", container="web", action="die", exit_code=137)
    tests_a = emit("pytest", "pytest_session", rootdir="/src/a", outcome="passed")
    fs = emit("fs", "fs_change", path="/src/a/x.py")
    thread = emit("agent", "agent_message", msg_thread="t-1", msg_from="a", msg_to="b")
    misc = [emit("custom", "thing", n=1), emit("custom", "thing", n=2)]
    out = run_cli("replay", "--coalesce", "--json")
    assert out.returncode == 0, out.stderr
    got = [msgspec.json.decode(line)["event_id"] for line in out.stdout.splitlines()]
    # One per entity, ordered by each entity's newest event; the job is its own entity.
    assert got == [job, run_done, other_run, web_died, tests_a, fs, thread, misc[1]]


@pytest.mark.timeout(120)
def test_replay_shows_progress_on_large_backlogs():
    resolve_paths().ensure()
    fields = encode_fields("bulk", "row", {"n": 1})
    with Store(resolve_paths().db) as store:
        for _ in range(20_001):
            store.insert(source="bulk", event_type="row", fields=fields)
    out = run_cli("replay", "--progress", "--source", "bulk")
    assert out.returncode == 0
    assert len(out.stdout.splitlines()) == 20_001
    progress = out.stderr.splitlines()
    assert progress == [
        "replay: 10000/20001 rows (49%)",
        "replay: 20000/20001 rows (99%)",
        "replay: 20001/20001 rows (100%)",
    ]
    assert run_cli("replay", "--source", "bulk").stderr == ""  # quiet when stderr is not a terminal


def test_replay_bad_since_exits_2_and_leaves_the_bookmark_alone():
    emit("agent", "a")
    out = run_cli("replay", "--since", "not-a-cursor", "--bookmark", "x")
    assert out.returncode == 2 and "neither an event id" in out.stderr
    with Store(resolve_paths().db) as store:
        assert store.get_bookmark("x") is None

"""kill -9 of each watcher under load, then a restart: what was committed stays, exactly
once, and the restarted watcher carries on from its saved state.

- fs: no cursor (watchdog reports changes, not history), so what it promises across a
  crash is narrower: nothing committed is lost, no file state is ever stored twice, and
  every change after the restart is reported. Changes made while it was down, or still
  debouncing at the kill, are not (docs/source-fs.md).
- github ETag poller: state is saved once per pass; a pass killed half-way is redone by
  the next one, which stores the missing transitions and none twice.
- docker: the cursor is saved after every emit; a runner killed mid-stream resumes from
  it and reports the containers that ran while it was dead, each event once.
"""

from __future__ import annotations

import itertools
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support import docker as dk
from tests._support import faults as fh
from tests._support import fs
from tests._support import github as gh


def fs_key(row: dict[str, Any]) -> tuple[Any, ...]:
    f = row["fields"]
    return (f["path"], f["change"], f["size"], f["mtime_ns"])


@pytest.mark.timeout(120)
def test_fs_watcher_kill9_while_files_change(tmp_path: Path, reap: Callable[[Any], Any]) -> None:
    watched = tmp_path / "w"
    watched.mkdir()

    def start() -> Any:
        runner = fs.Runner(tmp_path, [str(watched), "--debounce", "0.05s"])
        reap(runner.proc)
        return runner.ready()

    first = start()
    stop = threading.Event()
    last_write: dict[str, float] = {}  # file -> monotonic time of its last completed write

    def writer() -> None:
        for n in itertools.count():  # 20 files, each rewritten with growing content
            if stop.is_set():
                return
            path = watched / f"f{n % 20:02d}.txt"
            path.write_text("x" * (n + 1))
            last_write[path.name] = time.monotonic()
            time.sleep(0.005)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        fh.wait_until(lambda: len(fh.stored("fs")) >= 20, "20 fs events")
        first.proc.kill()
        first.proc.wait(10)
        committed = fh.stored("fs")
        time.sleep(0.2)  # changes keep coming while no watcher runs
        second = start()
        restarted = time.monotonic()
        time.sleep(0.5)
    finally:
        stop.set()
        thread.join(10)
    rest = fs.settle(second, watched)  # sentinel, then SIGTERM: everything pending is flushed
    stored = fh.stored("fs")
    # The restarted watcher first reports the window it was down (killed: not a clean stop).
    (gap,) = [r for r in stored if r["event_type"] == "fs_gap"]
    assert gap["fields"]["clean_stop"] is False and gap["fields"]["down_s"] > 0
    rows = [r for r in stored if r["event_type"] == "fs_change" and not r["fields"]["rel"].startswith("zz-")]
    assert [r["event_id"] for r in rows[: len(committed)]] == [r["event_id"] for r in committed]
    keys = [fs_key(r) for r in rows]
    assert len(keys) == len(set(keys)), "a file state was stored twice"
    # Every file last written after the restart is reported in its final state.
    for name, at in last_write.items():
        if at > restarted:
            st = (watched / name).stat()
            assert any(
                e.fields["rel"] == name and (e.fields["size"], e.fields["mtime_ns"]) == (st.st_size, st.st_mtime_ns)
                for e in rest
            ), name


def _expected_keys(repos: int) -> list[str]:
    keys = []
    for k in range(repos):
        keys += [f"run:{k * 10 + 1}:completed:success:1", f"run:{k * 10 + 2}:in_progress:null:1"]
        keys.append(f"job:{k * 100 + 1}:in_progress:null")
    return keys


@pytest.mark.timeout(180)
def test_github_poller_killed_mid_pass_is_completed_by_the_next_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waitbus_env: dict[str, str], reap: Callable[[Any], Any]
) -> None:
    repos = 60
    api = gh.StandInAPI(tmp_path / "standin")
    try:
        monkeypatch.setenv("WAITBUS_GITHUB_API", api.url)
        monkeypatch.setenv("GH_TOKEN", "ghp_test_token")
        state = Path(waitbus_env["WAITBUS_STATE_DIR"])
        state.mkdir(parents=True, exist_ok=True)
        (state / "watched_repos.txt").write_text("".join(f"acme/r{k}\n" for k in range(repos)))
        for k in range(repos):
            repo = f"acme/r{k}"
            runs = [
                gh.api_run(k * 10 + 2, "in_progress", None, repo=repo),
                gh.api_run(k * 10 + 1, "completed", "success", repo=repo),
            ]
            api.config["repos"][repo] = {
                "runs": runs,
                "jobs": {str(k * 10 + 2): [gh.api_job(k * 100 + 1, k * 10 + 2, "in_progress", None)]},
            }
        # One repo's runs never answer while the first pass runs: it is stuck mid-way
        # however fast or slow the box (its request timeout outlasts the test).
        api.config["hang"] = {f"/repos/acme/r{repos // 2}/actions/runs": True}
        api.write()
        err = tmp_path / "poll-1.err"
        with err.open("wb") as log:
            poller = reap(
                subprocess.Popen([*gh.poll_cmd(), "--no-stall-check", "--timeout", "600"], stdout=log, stderr=log)
            )
        fh.wait_until(lambda: len(fh.stored("github")) >= 3, "the pass to store its first events")
        poller.kill()
        poller.wait(10)
        api.config["hang"] = {}
        api.write()
        at_kill = len(fh.stored("github"))
        assert 3 <= at_kill < 3 * repos, "the pass was not killed half-way"
        assert not (state / "etag-poll.json").exists()  # its state was never saved

        second = subprocess.run([*gh.poll_cmd(), "--no-stall-check"], capture_output=True, text=True, timeout=90)
        assert second.returncode == 0, second.stderr
        assert "another pass is running" not in second.stderr  # the dead pass's lock died with it
        assert len(second.stdout.splitlines()) == 3 * repos - at_kill  # only what was missing
        keys = [r["delivery_id"] for r in fh.stored("github")]
        assert sorted(keys) == sorted(_expected_keys(repos))  # no gap, no duplicate
        n = len(api.requests())
        third = subprocess.run([*gh.poll_cmd(), "--no-stall-check"], capture_output=True, text=True, timeout=90)
        assert third.returncode == 0 and third.stdout == ""
        assert {r["status"] for r in api.requests()[n:]} == {304}  # the ETags were saved this time
    finally:
        api.stop()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_docker_runner_kill9_mid_stream_resumes_from_its_cursor(
    containers: Callable[..., Any], start_runner: Callable[..., Any]
) -> None:
    first = start_runner()
    busy: list[Any] = []
    # Back to back, while the runner is killed; each lives 1 s, so its die event comes
    # well after the first start the kill waits for (quick containers were all reported
    # before the kill landed, on a quiet box).
    burst = threading.Thread(
        target=lambda: busy.extend(containers(f"load{i}", ["sh", "-c", f"sleep 1; exit {10 + i}"]) for i in range(3))
    )
    burst.start()
    try:
        dk.wait_stored(lambda rows: len(rows) >= 1, first)
        first.proc.kill()  # kill -9 while the engine is still reporting the others
        first.proc.wait(10)
    finally:
        burst.join(240)
    at_kill = len(dk.stored())
    for c in busy:
        c.wait(timeout=120)
    down = containers("down", ["sh", "-c", "exit 20"])  # starts and exits with no runner at all
    assert down.wait(timeout=120)["StatusCode"] == 20
    second = start_runner()
    after = containers("after", ["sh", "-c", "exit 21"])
    after.wait(timeout=120)
    everyone = [*busy, down, after]
    rows = dk.wait_stored(lambda rows: all(dk.has(c, "die")(rows) for c in everyone), second)
    assert second.stop() == 0
    for c, code in zip(everyone, [10, 11, 12, 20, 21], strict=True):
        mine = dk.of(rows, c)
        assert [r["action"] for r in mine] == ["start", "die"], mine  # each exactly once
        assert mine[1]["exit_code"] == code
    assert len(rows) == 2 * len(everyone)
    assert at_kill < 2 * len(busy), "the runner was killed after the burst, not during it"
    # Resumed from its cursor, not from the start: at most the one event emitted between
    # the kill and the cursor save is read again (and the log's dedup drops it).
    assert second.log().count("already stored") <= 1, second.log()

"""`waitbus source fs` end to end: the real runner as a subprocess (through the CLI door,
and once through the bare entry function), a real watchdog observer on real files in a
tmp dir, events read back from the real event log.

Nothing here sleeps to decide an outcome. Each wait polls the log (or the runner's
stderr) for what must appear, with a deadline of seconds. To prove that something was
*not* reported, a sentinel file is written after the operations under test; once its
event is in the log, every raw event before it has been read, and SIGTERM then flushes
whatever is still pending, so the log is complete when the runner exits.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support import WAITBUS
from tests._support.fs import WAIT, Runner, fs_events, has, settle, wait_events

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def start(tmp_path: Path, reap: Callable[[Any], Any]) -> Iterator[Callable[..., Runner]]:
    def make(*args: str | Path, entry: bool = False) -> Runner:
        runner = Runner(tmp_path, [str(a) for a in args], entry=entry)
        reap(runner.proc)
        return runner.ready()

    yield make


def changes(events: list[Any]) -> list[tuple[str, str]]:
    return [(e.fields["change"], e.fields["rel"]) for e in events]


def test_create_modify_move_in_rename_delete(tmp_path: Path, start: Callable[..., Runner]) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    runner = start(watched)

    a = watched / "a.txt"
    a.write_text("hello")
    (created,) = wait_events(has("a.txt", "created"), "created a.txt", runner)
    st = a.stat()
    assert created.event_type == "fs_change"
    assert created.fields == {
        "source": "fs",
        "event_type": "fs_change",
        "path": str(a),
        "rel": "a.txt",
        "change": "created",
        "is_dir": False,
        "size": 5,
        "mtime_ns": st.st_mtime_ns,
        "root": str(watched),
    }
    assert created.summary == "fs created a.txt"
    assert created.owner is None and created.repo is None

    with a.open("a") as f:
        f.write(", world")
    events = wait_events(has("a.txt", "modified"), "modified a.txt", runner)
    assert events[-1].fields["size"] == 12
    assert events[-1].summary == "fs modified a.txt"

    outside = tmp_path / "outside.txt"
    outside.write_text("from elsewhere")
    outside.rename(watched / "in.txt")
    events = wait_events(has("in.txt"), "the move-in", runner)
    assert events[-1].fields["change"] == "created" and events[-1].fields["size"] == 14

    a.rename(watched / "b.txt")
    events = wait_events(has("b.txt", "moved"), "the rename", runner)
    assert events[-1].fields["src"] == str(a)
    assert events[-1].fields["dest"] == events[-1].fields["path"] == str(watched / "b.txt")

    (watched / "b.txt").unlink()
    events = wait_events(has("b.txt", "deleted"), "the delete", runner)
    assert events[-1].fields["size"] is None and events[-1].fields["mtime_ns"] is None

    (watched / "d").mkdir()
    events = wait_events(has("d", "created"), "the new directory", runner)
    assert events[-1].fields["is_dir"] is True

    assert changes(settle(runner, watched)) == [
        ("created", "a.txt"),
        ("modified", "a.txt"),
        ("created", "in.txt"),
        ("moved", "b.txt"),
        ("deleted", "b.txt"),
        ("created", "d"),
    ]
    assert len({e.delivery_id for e in fs_events()}) == 7
    assert "fs modified a.txt" in runner.stdout()


def test_vim_style_save_is_one_event(tmp_path: Path, start: Callable[..., Runner]) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    app = watched / "app.py"
    app.write_text("print('old')\n")
    runner = start(watched)

    # What vim does on :w (writebackup, backupcopy=no): swap file, the 4913 probe,
    # rename the original to a backup, write the new file, drop the backup.
    (watched / ".app.py.swp").write_bytes(b"\0" * 4096)
    probe = watched / "4913"
    probe.write_text("")
    probe.unlink()
    app.rename(watched / "app.py~")
    app.write_text("print('new')\n")
    (watched / "app.py~").unlink()
    (watched / ".app.py.swp").write_bytes(b"\1" * 4096)

    events = settle(runner, watched)
    assert changes(events) == [("modified", "app.py")], runner.stderr()
    assert events[0].fields["size"] == len("print('new')\n")


def test_atomic_save_reports_only_the_target(tmp_path: Path, start: Callable[..., Runner]) -> None:
    import tempfile

    watched = tmp_path / "w"
    watched.mkdir()
    app = watched / "app.py"
    app.write_text("v1\n")
    runner = start(watched)

    # The usual safe-save: new content in a temp file beside the target, then rename over it.
    fd, tmp = tempfile.mkstemp(dir=watched, prefix="app.py.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write("version two\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, app)

    events = settle(runner, watched)
    assert changes(events) == [("modified", "app.py")], runner.stderr()
    assert events[0].fields["size"] == len("version two\n")


def test_a_burst_of_writes_is_one_event_after_the_file_is_quiet(tmp_path: Path, start: Callable[..., Runner]) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    log = watched / "out.log"
    log.write_text("")
    # A 1 s window: the 50 writes take ~100 ms, and no gap between two of them comes near it.
    runner = start(watched, "--debounce", "1s")
    for i in range(50):
        with log.open("a") as f:
            f.write(f"line {i}\n")
        time.sleep(0.002)
    events = settle(runner, watched)
    assert changes(events) == [("modified", "out.log")]
    assert events[0].fields["size"] == log.stat().st_size  # emitted after the last write


def test_recursive_or_top_level_only(tmp_path: Path, start: Callable[..., Runner]) -> None:
    watched = tmp_path / "w"
    (watched / "sub" / "deeper").mkdir(parents=True)

    top_only = start(watched)
    (watched / "sub" / "deeper" / "x.txt").write_text("x")
    (watched / "top.txt").write_text("t")
    events = settle(top_only, watched)
    assert changes(events) == [("created", "top.txt")]

    recursive = start(watched, "--recursive")
    (watched / "sub" / "deeper" / "y.txt").write_text("y")
    found = wait_events(has("sub/deeper/y.txt"), "the nested file", recursive)
    assert found[-1].fields["root"] == str(watched)
    assert found[-1].fields["path"] == str(watched / "sub" / "deeper" / "y.txt")
    assert recursive.stop() == 0


def test_ignore_globs_and_editor_churn(tmp_path: Path, start: Callable[..., Runner]) -> None:
    watched = tmp_path / "w"
    (watched / "build").mkdir(parents=True)
    (watched / "node_modules" / "pkg").mkdir(parents=True)
    runner = start(watched, "-r", "--ignore", "*.log", "--ignore", "build/*.o", "--ignore", "node_modules", "-v")
    for rel in [
        "run.log",
        "build/x.o",
        "node_modules/pkg/index.js",
        ".DS_Store",
        "#notes.md#",
        ".#notes.md",
        "notes.md~",
        "notes.md___jb_tmp___",
        ".notes.md.swx",
        "build/keep.c",
    ]:
        (watched / rel).write_text("churn")
    events = settle(runner, watched)
    assert changes(events) == [("created", "build/keep.c")]
    if sys.platform.startswith("linux"):  # a tree the globs hide is not even watched there
        assert "node_modules/pkg" not in runner.stderr() and "build/x.o" in runner.stderr()


def test_watching_one_file_sees_its_atomic_saves_and_not_its_siblings(
    tmp_path: Path, start: Callable[..., Runner]
) -> None:
    conf = tmp_path / "app.toml"
    conf.write_text("a = 1\n")
    runner = start(conf)
    (tmp_path / "other.toml").write_text("b = 2\n")
    tmp = tmp_path / ".app.toml.new"
    tmp.write_text("a = 2\n")
    tmp.replace(conf)
    events = wait_events(has("app.toml", "modified"), "the save", runner)
    assert events[-1].fields["root"] == str(tmp_path)
    conf.write_text("a = 3\n")  # a sentinel the file watch itself reports
    wait_events(lambda ev: len(ev) >= 2, "the second write", runner)
    assert runner.stop() == 0
    assert changes(fs_events()) == [("modified", "app.toml"), ("modified", "app.toml")]


def test_a_missing_path_is_exit_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [WAITBUS, "source", "fs", str(tmp_path), str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 2
    assert f"no such file or directory: {tmp_path / 'missing'}" in done.stderr
    assert fs_events() == []


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_a_signal_flushes_pending_changes(tmp_path: Path, start: Callable[..., Runner], sig: int, code: int) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    runner = start(watched, "--debounce", "60s", "--verbose")
    target = watched / "pending.txt"
    target.write_text("not yet reported")
    runner.wait_stderr(f"seen closed {target}")  # the runner holds it, pending for a minute
    assert fs_events() == []
    began = time.monotonic()
    assert runner.stop(sig) == code, runner.stderr()
    assert time.monotonic() - began < WAIT
    assert changes(fs_events()) == [("created", "pending.txt")]


def test_once_through_the_bare_runner_function(tmp_path: Path, start: Callable[..., Runner]) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    runner = start(watched, "--once", "--json", entry=True)
    (watched / "first.txt").write_text("1")
    assert runner.proc.wait(WAIT) == 0, runner.stderr()
    (event,) = fs_events()
    assert event.fields["rel"] == "first.txt"
    assert f'"event_id": "{event.event_id}"' in runner.stdout()


def test_polling_reports_writes_without_close_events(tmp_path: Path, start: Callable[..., Runner]) -> None:
    """--poll: watchdog's PollingObserver (snapshots, no close-after-write), so a write is
    'modified' plus quiet time; an atomic save between two polls is still one event."""
    watched = tmp_path / "w"
    watched.mkdir()
    runner = start(watched, "--poll", "100ms", "--debounce", "50ms")
    # The window is stretched to two polls, so a temp file seen by one snapshot is still
    # pending when the next one reports its rename.
    assert "debounce 0.2s, polling every 0.1s" in runner.stderr()
    app = watched / "app.py"
    app.write_text("v1\n")
    wait_events(has("app.py", "created"), "created app.py", runner)
    app.write_text("version 2\n")  # a new size: a snapshot sees it even if the mtime tick is coarse
    wait_events(has("app.py", "modified"), "modified app.py", runner)
    tmp = watched / ".app.py.new"
    tmp.write_text("version three\n")
    tmp.replace(app)
    events = wait_events(lambda ev: len(ev) >= 3, "the atomic save", runner)
    assert changes(events) == [("created", "app.py"), ("modified", "app.py"), ("modified", "app.py")]
    assert events[-1].fields["size"] == len("version three\n")
    assert changes(settle(runner, watched)) == changes(events)


def test_a_directory_moved_in_is_one_event_and_then_watched(tmp_path: Path, start: Callable[..., Runner]) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    outside = tmp_path / "pkg"
    (outside / "sub").mkdir(parents=True)
    for name in ["a.py", "b.py", "sub/c.py"]:
        (outside / name).write_text(name)
    runner = start(watched, "--recursive")
    outside.rename(watched / "pkg")
    wait_events(has("pkg", "created"), "the moved-in directory", runner)
    (watched / "pkg" / "sub" / "c.py").write_text("changed")  # its subdirectory is watched now
    wait_events(has("pkg/sub/c.py", "modified"), "a write inside it", runner)
    events = settle(runner, watched)
    assert changes(events) == [("created", "pkg"), ("modified", "pkg/sub/c.py")]
    assert events[0].fields["is_dir"] is True and events[0].fields["size"] is None


def test_a_slow_writer_is_one_event_when_it_closes(tmp_path: Path, start: Callable[..., Runner]) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    runner = start(watched, "--verbose")
    target = watched / "download.part"
    with target.open("w") as f:
        f.write("first half,")
        f.flush()
        runner.wait_stderr(f"seen modified {target}")
        time.sleep(0.5)  # the input, not the check: a pause longer than the 0.2 s debounce
        f.write(" second half")
    events = settle(runner, watched)
    assert changes(events) == [("created", "download.part")], runner.stderr()
    assert events[0].fields["size"] == len("first half, second half")


def test_a_file_held_open_is_reported_after_the_hold(tmp_path: Path, start: Callable[..., Runner]) -> None:
    watched = tmp_path / "w"
    watched.mkdir()
    log = watched / "app.log"
    log.write_text("")
    runner = start(watched, "--verbose")
    with log.open("a") as f:
        f.write("started\n")
        f.flush()
        runner.wait_stderr(f"seen modified {log}")
        began = time.monotonic()
        events = wait_events(has("app.log", "modified"), "the held-open write", runner)
        assert time.monotonic() - began >= 1.5  # held for max(2 s, 5 x debounce), not 0.2 s
        assert events[-1].fields["size"] == len("started\n")
        assert not f.closed
        f.write("stopping\n")
    # The last write completes at close: one more event, with the final size.
    events = settle(runner, watched)
    assert changes(events) == [("modified", "app.log"), ("modified", "app.log")]
    assert events[-1].fields["size"] == len("started\nstopping\n")


@pytest.mark.parametrize("backupcopy", ["no", "yes"])
def test_a_real_vim_save_is_one_event(tmp_path: Path, start: Callable[..., Runner], backupcopy: str) -> None:
    """The editor itself (Debian's vim; tools/peers/fs.sh installs it). backupcopy=no is
    vim's rename-and-rewrite save, yes writes in place; both keep a swap file meanwhile.
    backupskip is emptied because its default skips backups for files under /tmp."""
    import shutil

    vim = shutil.which("vim")
    if vim is None:
        pytest.skip("vim is not installed (tools/peers/fs.sh installs it)")
    watched = tmp_path / "w"
    watched.mkdir()
    app = watched / "app.py"
    app.write_text("print('old')\n")
    runner = start(watched, "--verbose")
    settings = f"set writebackup nobackup backupcopy={backupcopy} backupskip="
    done = subprocess.run(
        [vim, "-N", "-u", "NONE", "-i", "NONE", "-c", settings, "-c", "%s/old/new/", "-c", "wq", str(app)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=watched,
        env={**os.environ, "HOME": str(tmp_path), "TERM": "dumb"},
        timeout=30,
        check=False,
    )
    assert done.returncode == 0
    assert app.read_text() == "print('new')\n"
    events = settle(runner, watched)
    assert changes(events) == [("modified", "app.py")], runner.stderr()
    assert events[0].fields["size"] == len("print('new')\n")
    # The churn really happened and was folded away: the swap file, and the backup.
    seen = runner.stderr()
    assert f"seen created {watched / '.app.py.swp'}" in seen
    backup = f"seen moved {app} -> {app}~" if backupcopy == "no" else f"seen created {app}~"
    assert backup in seen, seen


def test_directories_renamed_or_moved_out_of_a_recursive_tree(tmp_path: Path, start: Callable[..., Runner]) -> None:
    watched = tmp_path / "w"
    (watched / "old" / "deep").mkdir(parents=True)
    runner = start(watched, "--recursive")
    (watched / "old").rename(watched / "new")
    wait_events(has("new", "moved"), "the renamed directory", runner)
    (watched / "new" / "deep" / "f.py").write_text("inside")  # its watches follow the rename
    events = wait_events(has("new/deep/f.py", "created"), "a write inside it", runner)
    assert events[-1].fields["path"] == str(watched / "new" / "deep" / "f.py")
    (watched / "new").rename(tmp_path / "away")
    wait_events(has("new", "deleted"), "the directory moved out", runner)
    (tmp_path / "away" / "deep" / "g.py").write_text("no longer watched")
    events = settle(runner, watched)
    assert changes(events) == [("moved", "new"), ("created", "new/deep/f.py"), ("deleted", "new")]
    assert events[0].fields["src"] == str(watched / "old") and events[0].fields["is_dir"] is True


def test_no_debounce_is_still_one_event_per_completed_write(tmp_path: Path, start: Callable[..., Runner]) -> None:
    """--debounce 0 reports a file the moment its writer closes it: never before (created
    but still empty), never twice. Each writer makes its file, writes twice and closes."""
    watched = tmp_path / "w"
    watched.mkdir()
    runner = start(watched, "--debounce", "0")
    for i in range(30):
        with (watched / f"f{i}.txt").open("w") as f:
            f.write("first,")
            f.flush()
            f.write(" second")
    events = settle(runner, watched)
    # Files settled by one read share its time, so within it they come in name order.
    assert sorted(changes(events)) == sorted(("created", f"f{i}.txt") for i in range(30)), runner.stderr()
    assert {e.fields["size"] for e in events} == {len("first, second")}


def test_a_file_made_with_its_new_directories_is_reported(tmp_path: Path, start: Callable[..., Runner]) -> None:
    """`mkdir -p a/b && echo > a/b/f` can finish before the watch on a/b exists: the file
    is reported all the same (and once)."""
    watched = tmp_path / "w"
    watched.mkdir()
    runner = start(watched, "--recursive")
    (watched / "a" / "b").mkdir(parents=True)
    (watched / "a" / "b" / "f.txt").write_text("made at once")
    events = settle(runner, watched)
    assert sorted(changes(events)) == [("created", "a"), ("created", "a/b"), ("created", "a/b/f.txt")]
    assert [e.fields["size"] for e in events if e.fields["rel"] == "a/b/f.txt"] == [len("made at once")]

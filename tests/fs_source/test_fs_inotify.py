"""The Linux backend alone: real inotify on real files in a tmp dir, and the raw events it
reads, in order (what the coalescer is fed). Linux only: elsewhere the runner uses watchdog."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from waitbus_sources_fs._coalesce import Raw
from waitbus_sources_fs._ignore import Root

if not sys.platform.startswith("linux"):
    pytest.skip("inotify is Linux's", allow_module_level=True)

from waitbus_sources_fs._inotify import MOVE_WAIT_S, InotifyWatch

pytestmark = pytest.mark.timeout(60)
Seen = list[tuple[str, str, str]]


class Watched:
    def __init__(self, roots: list[Root], hidden: Callable[[str], bool] = lambda _: False) -> None:
        self.warnings: list[str] = []
        self.watch = InotifyWatch(roots, self.warnings.append, hidden=hidden)
        self.watch.start()

    def read(self, *, final: bool = False) -> Seen:
        return [(r.kind, r.src, r.dest) for r in self.watch.read(time.monotonic(), final=final)]

    def until(self, done: Callable[[Seen], bool], *, final: bool = False) -> Seen:
        """Read until `done(everything read so far)`: events arrive as the kernel queues them."""
        seen: Seen = []
        deadline = time.monotonic() + 10
        while not done(seen):
            assert time.monotonic() < deadline, f"never came; read {seen}"
            seen += self.read(final=final)
            time.sleep(0.005)
        return seen


@pytest.fixture
def watch(tmp_path: Path) -> Iterator[Callable[..., Watched]]:
    made: list[Watched] = []

    def make(*roots: Root, hidden: Callable[[str], bool] = lambda _: False) -> Watched:
        made.append(Watched(list(roots), hidden))
        return made[-1]

    yield make
    for w in made:
        w.watch.close()


def has(kind: str, src: str, dest: str = "") -> Callable[[Seen], bool]:
    return lambda seen: (kind, src, dest) in seen


def test_a_write_is_created_opened_modified_closed(tmp_path: Path, watch: Callable[..., Watched]) -> None:
    w = watch(Root(str(tmp_path), recursive=False))
    f = str(tmp_path / "a.txt")
    with open(f, "w") as fh:
        fh.write("x")
    seen = w.until(has("closed", f))
    assert seen == [("created", f, ""), ("opened", f, ""), ("modified", f, ""), ("closed", f, "")]
    with open(f) as fh:
        fh.read()
    assert w.until(has("closed_no_write", f)) == [("opened", f, ""), ("closed_no_write", f, "")]
    raw = w.watch.read(time.monotonic())
    assert raw == []


def test_a_rename_is_one_moved_and_the_tree_edge_is_half_moves(tmp_path: Path, watch: Callable[..., Watched]) -> None:
    inside, outside = tmp_path / "in", tmp_path / "out"
    inside.mkdir()
    outside.mkdir()
    (inside / "a").write_text("a")
    (outside / "b").write_text("b")
    w = watch(Root(str(inside), recursive=False))
    os.rename(inside / "a", inside / "c")
    assert w.until(has("moved", str(inside / "a"), str(inside / "c")))[-1:] == [
        ("moved", str(inside / "a"), str(inside / "c"))
    ]
    os.rename(outside / "b", inside / "b")  # moved in: no source the watch knows
    assert w.until(has("moved", "", str(inside / "b"))) == [("moved", "", str(inside / "b"))]
    # Moved out, then a new file of the same name: the move-out waits for a partner that
    # never comes, and what came after it waits behind it, so the order is kept.
    os.rename(inside / "c", outside / "c")
    (inside / "c").write_text("new")
    began = time.monotonic()
    seen = w.until(has("closed", str(inside / "c")))
    assert time.monotonic() - began >= MOVE_WAIT_S * 0.9
    assert seen[0] == ("moved", str(inside / "c"), "")
    assert seen[1:] == [(k, str(inside / "c"), "") for k in ("created", "opened", "modified", "closed")]


def test_final_settles_a_waiting_move_out_at_once(tmp_path: Path, watch: Callable[..., Watched]) -> None:
    (tmp_path / "w").mkdir()
    (tmp_path / "w" / "a").write_text("a")
    w = watch(Root(str(tmp_path / "w"), recursive=False))
    os.rename(tmp_path / "w" / "a", tmp_path / "a")
    deadline = time.monotonic() + 10
    while w.watch.next_due() is None:  # read until the move-out has arrived, and waits
        assert w.read() == []
        assert time.monotonic() < deadline
    assert w.read(final=True) == [("moved", str(tmp_path / "w" / "a"), "")]
    assert w.watch.next_due() is None


def test_recursive_watches_follow_new_moved_in_and_renamed_directories(
    tmp_path: Path, watch: Callable[..., Watched]
) -> None:
    root = tmp_path / "w"
    (root / "old" / "deep").mkdir(parents=True)
    w = watch(Root(str(root), recursive=True))

    (root / "a" / "b").mkdir(parents=True)  # b may exist before a's watch is added: the walk finds it
    w.until(has("created", str(root / "a")))
    (root / "a" / "b" / "f").write_text("1")
    w.until(has("closed", str(root / "a" / "b" / "f")))

    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    pkg.rename(root / "pkg")  # moved in whole: one event, and its inside watched from now on
    assert w.until(has("moved", "", str(root / "pkg"))) == [("moved", "", str(root / "pkg"))]
    (root / "pkg" / "sub" / "g").write_text("2")
    w.until(has("closed", str(root / "pkg" / "sub" / "g")))

    (root / "old").rename(root / "new")  # renamed inside the tree: its watches now report the new paths
    w.until(has("moved", str(root / "old"), str(root / "new")))
    (root / "new" / "deep" / "h").write_text("3")
    seen = w.until(has("closed", str(root / "new" / "deep" / "h")))
    assert all("old" not in src for _, src, _ in seen)

    (root / "new").rename(tmp_path / "gone")  # moved out: no longer watched
    w.until(has("moved", str(root / "new")), final=True)
    (tmp_path / "gone" / "deep" / "i").write_text("4")
    (root / "sentinel").write_text("s")
    seen = w.until(has("closed", str(root / "sentinel")))
    assert [s for s in seen if "sentinel" not in s[1]] == []
    assert w.warnings == []


def test_top_level_only_sees_no_subdirectory_entries(tmp_path: Path, watch: Callable[..., Watched]) -> None:
    (tmp_path / "sub").mkdir()
    w = watch(Root(str(tmp_path), recursive=False))
    (tmp_path / "sub" / "x").write_text("x")
    (tmp_path / "y").write_text("y")
    seen = w.until(has("closed", str(tmp_path / "y")))
    assert [s for s in seen if s[1] != str(tmp_path / "y")] == []


def test_a_root_that_cannot_be_watched_fails_start(tmp_path: Path) -> None:
    watch = InotifyWatch([Root(str(tmp_path / "missing"), recursive=True)], warn=print)
    try:
        with pytest.raises(OSError):
            watch.start()
    finally:
        watch.close()


def test_a_deleted_root_is_reported_once(tmp_path: Path, watch: Callable[..., Watched]) -> None:
    root = tmp_path / "w"
    root.mkdir()
    w = watch(Root(str(root), recursive=True))
    root.rmdir()
    assert w.until(has("deleted", str(root))) == [("deleted", str(root), "")]


def test_an_overflowed_queue_is_said_and_the_watches_rebuilt(tmp_path: Path, watch: Callable[..., Watched]) -> None:
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip(f"max_queued_events is {limit}: too many files to write to overflow it")
    root = tmp_path / "w"
    root.mkdir()
    w = watch(Root(str(root), recursive=True))
    for i in range(limit // 3 + 100):  # create, open, close: three events each, none read meanwhile
        os.close(os.open(root / f"f{i}", os.O_CREAT | os.O_WRONLY))
    w.read(final=True)  # every chunk taken off the kernel, parsed at once
    assert any("overflowed" in text for text in w.warnings)
    (root / "later").mkdir()  # the watch still works after it
    w.until(has("created", str(root / "later")))


def test_raw_events_carry_the_time_they_were_read(tmp_path: Path, watch: Callable[..., Watched]) -> None:
    w = watch(Root(str(tmp_path), recursive=False))
    (tmp_path / "d").mkdir()
    deadline = time.monotonic() + 10
    got: list[Raw] = []
    while not got:
        assert time.monotonic() < deadline
        now = time.monotonic()
        got = w.watch.read(now)
        time.sleep(0.005)
    assert got == [Raw("created", str(tmp_path / "d"), "", True, now)]


def test_each_read_takes_every_queued_event_off_the_kernel(tmp_path: Path, watch: Callable[..., Watched]) -> None:
    """Parsing is slower than a burst of writes can queue events, and the kernel drops
    those past max_queued_events: so a read empties the kernel's queue at once and parses
    one chunk; the rest waits here (next_due: now) without counting against the limit."""
    limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    if limit > 100_000:
        pytest.skip(f"max_queued_events is {limit}: too many files to write to fill it")
    files = limit * 3 // 4 // 4  # create, open, modify, close: four events per file
    w = watch(Root(str(tmp_path), recursive=False))

    def burst(start: int) -> None:
        for i in range(start, start + files):
            with open(tmp_path / f"f{i}", "w") as fh:
                fh.write("x")

    burst(0)
    first = w.watch.read(time.monotonic())
    assert 0 < len(first) < files * 4  # one chunk parsed ...
    assert w.watch.next_due() == 0.0  # ... and the rest is to be parsed at once
    burst(files)  # as many again: past the kernel's limit, had the first burst still been there
    rest = w.watch.read(time.monotonic(), final=True)
    assert len(first) + len(rest) == files * 8
    assert [r.src for r in first + rest if r.kind == "closed"] == [str(tmp_path / f"f{i}") for i in range(files * 2)]
    assert w.warnings == [] and w.watch.next_due() is None


def test_trees_the_ignore_globs_hide_are_not_watched(tmp_path: Path, watch: Callable[..., Watched]) -> None:
    root = tmp_path / "w"
    (root / "node_modules" / "pkg").mkdir(parents=True)
    (root / "src").mkdir()
    w = watch(Root(str(root), recursive=True), hidden=lambda path: os.path.basename(path) == "node_modules")
    (root / "node_modules" / "pkg" / "index.js").write_text("at start")
    (root / "src" / "sub" / "node_modules").mkdir(parents=True)  # made later: not watched either
    w.until(has("created", str(root / "src" / "sub")))
    (root / "src" / "sub" / "node_modules" / "x.js").write_text("later")
    (root / "src" / "sub" / "y.js").write_text("seen")
    seen = w.until(has("closed", str(root / "src" / "sub" / "y.js")))
    assert [src for _, src, _ in seen if "node_modules" in src and src.endswith(".js")] == []


def test_what_a_new_directory_holds_before_its_watch_is_reported_created(
    tmp_path: Path, watch: Callable[..., Watched]
) -> None:
    """`mkdir -p a/b && touch a/b/f`: the kernel cannot say what was made in a directory
    before its watch, so the watch's first listing reports it (nothing is read here until
    all of it exists, so all of it is found that way)."""
    root = tmp_path / "w"
    root.mkdir()
    w = watch(Root(str(root), recursive=True))
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "f").write_text("x")
    (root / "a" / "g").write_text("y")
    seen = w.until(has("created", str(root / "a" / "b" / "f")))
    assert seen == [("created", str(root / "a"), "")] + [
        ("created", str(root / rel), "") for rel in ("a/b", "a/g", "a/b/f")
    ]
    (root / "a" / "b" / "f").write_text("z")  # and it is watched from then on
    assert w.until(has("closed", str(root / "a" / "b" / "f")))[-1] == ("closed", str(root / "a" / "b" / "f"), "")

"""The coalescer alone: raw watchdog event sequences (as inotify reports them for real
editor saves, see integration/sources/test_src_fs.py) -> the changes reported, with
explicit times so the debounce and the close-after-write hold are checked exactly."""

from __future__ import annotations

import pytest

from waitbus_sources_fs._coalesce import FRESH_S, Change, Coalescer
from waitbus_sources_fs._ignore import DEFAULT_IGNORE, Paths, Root

D = "/w"


def make(debounce: float = 0.2, *, reports_close: bool = True, hold: float | None = None) -> Coalescer:
    paths = Paths([Root(D, recursive=True)], DEFAULT_IGNORE)
    return Coalescer(debounce, ignored=paths.ignored, reports_close=reports_close, hold=hold)


def p(name: str) -> str:
    return f"{D}/{name}"


def write(c: Coalescer, name: str, t: float, *, new: bool = False) -> None:
    """One open/write/close of a file, as inotify reports it."""
    if new:
        c.feed("created", p(name), now=t)
    c.feed("opened", p(name), now=t)
    c.feed("modified", p(name), now=t)
    c.feed("closed", p(name), now=t)


def test_a_new_file_is_one_created_after_it_is_quiet() -> None:
    c = make()
    write(c, "a.py", 10.0, new=True)
    assert c.ready(10.1) == []  # still inside the debounce window
    assert c.next_due() == pytest.approx(10.2)
    assert c.ready(10.2) == [Change(p("a.py"), "created", False)]
    assert c.ready(99) == [] and len(c) == 0


def test_a_burst_of_writes_is_one_event_after_the_last() -> None:
    c = make()
    for i in range(50):
        write(c, "a.py", 10.0 + i * 0.002)
    last = 10.0 + 49 * 0.002
    assert c.ready(last + 0.19) == []
    assert c.ready(last + 0.2) == [Change(p("a.py"), "modified", False)]


def test_a_file_still_open_for_writing_is_held_until_closed() -> None:
    c = make(hold=5.0)
    c.feed("created", p("big.bin"), now=1.0)
    c.feed("opened", p("big.bin"), now=1.0)
    c.feed("modified", p("big.bin"), now=1.1)
    assert c.ready(2.0) == []  # quiet for 0.9 s, but the writer has not closed it
    c.feed("modified", p("big.bin"), now=3.0)
    c.feed("closed", p("big.bin"), now=3.5)
    assert c.ready(3.6) == []
    assert c.ready(3.7) == [Change(p("big.bin"), "created", False)]


def test_a_writer_that_never_closes_is_reported_after_the_hold() -> None:
    c = make(hold=2.0)
    c.feed("modified", p("app.log"), now=1.0)
    assert c.next_due() == pytest.approx(3.0)
    assert c.ready(2.9) == []
    assert c.ready(3.0) == [Change(p("app.log"), "modified", False)]


def test_without_close_events_a_write_is_modified_plus_quiet_time() -> None:
    c = make(reports_close=False)
    c.feed("modified", p("a.py"), now=1.0)
    assert c.ready(1.2) == [Change(p("a.py"), "modified", False)]


def test_a_bare_close_after_write_counts_as_modified() -> None:
    c = make()  # `touch` on an existing file: open for writing, close, no data written
    c.feed("opened", p("a.py"), now=1.0)
    c.feed("closed", p("a.py"), now=1.0)
    assert c.ready(1.2) == [Change(p("a.py"), "modified", False)]


def test_reading_a_file_reports_nothing() -> None:
    c = make()
    c.feed("opened", p("a.py"), now=1.0)
    c.feed("closed_no_write", p("a.py"), now=1.0)
    assert c.flush() == []


def test_vim_save_is_one_modified_for_the_target() -> None:
    """vim with writebackup: swap file, the 4913 probe, rename the original to a~,
    write a new file, delete the backup."""
    c = make()
    write(c, ".a.py.swp", 1.0, new=True)
    write(c, "4913", 1.0, new=True)
    c.feed("deleted", p("4913"), now=1.0)
    c.feed("moved", p("a.py"), dest=p("a.py~"), now=1.01)
    write(c, "a.py", 1.02, new=True)
    c.feed("deleted", p("a.py~"), now=1.03)
    write(c, ".a.py.swp", 1.04)
    assert c.flush() == [Change(p("a.py"), "modified", False)]


def test_atomic_save_reports_the_target_not_the_temp_file() -> None:
    c = make()
    write(c, "a.py.tmp.1234", 1.0, new=True)  # any name: it was created within the window
    c.feed("moved", p("a.py.tmp.1234"), dest=p("a.py"), now=1.01)
    assert c.flush() == [Change(p("a.py"), "modified", False)]


def test_jetbrains_safe_write_is_one_modified() -> None:
    c = make()
    write(c, "a.py___jb_tmp___", 1.0, new=True)
    c.feed("moved", p("a.py"), dest=p("a.py___jb_old___"), now=1.01)
    c.feed("moved", p("a.py___jb_tmp___"), dest=p("a.py"), now=1.02)
    c.feed("deleted", p("a.py___jb_old___"), now=1.03)
    assert c.flush() == [Change(p("a.py"), "modified", False)]


def test_a_file_created_and_deleted_within_the_window_is_nothing() -> None:
    c = make()
    write(c, "scratch", 1.0, new=True)
    c.feed("deleted", p("scratch"), now=1.05)
    assert c.flush() == []


def test_modified_then_deleted_is_deleted() -> None:
    c = make()
    write(c, "a.py", 1.0)
    c.feed("deleted", p("a.py"), now=1.05)
    assert c.flush() == [Change(p("a.py"), "deleted", False)]


def test_a_rename_inside_the_tree_is_one_moved_with_its_source() -> None:
    c = make()
    c.feed("moved", p("old.py"), dest=p("new.py"), now=1.0)
    assert c.ready(1.2) == [Change(p("new.py"), "moved", False, src=p("old.py"))]


def test_two_quick_renames_keep_the_first_source() -> None:
    c = make()
    c.feed("moved", p("a"), dest=p("b"), now=1.0)
    c.feed("moved", p("b"), dest=p("c"), now=1.05)
    assert c.flush() == [Change(p("c"), "moved", False, src=p("a"))]


def test_moves_across_the_tree_edge_are_created_and_deleted() -> None:
    c = make()
    c.feed("moved", "", dest=p("in.txt"), now=1.0)  # a backend that reports half-moves
    c.feed("moved", p("out.txt"), dest="", now=1.0)
    assert sorted(c.flush(), key=lambda ch: ch.path) == [
        Change(p("in.txt"), "created", False),
        Change(p("out.txt"), "deleted", False),
    ]


def test_directories_report_created_and_deleted_but_not_their_own_modified() -> None:
    c = make()
    c.feed("created", p("d"), is_dir=True, now=1.0)
    c.feed("modified", D, is_dir=True, now=1.0)
    c.feed("modified", p("d"), is_dir=True, now=1.1)
    assert c.flush() == [Change(p("d"), "created", True)]
    c.feed("deleted", p("d"), is_dir=True, now=2.0)
    assert c.flush() == [Change(p("d"), "deleted", True)]


def test_ignored_names_never_surface() -> None:
    c = make()
    for name in [".a.swp", ".a.swx", "4913", "a~", "#a#", ".#a", ".DS_Store", "x___jb_old___", "d/.b.py.swo"]:
        write(c, name, 1.0, new=True)
    c.feed("moved", p("a~"), dest=p("b~"), now=1.0)
    assert c.flush() == []


def test_ready_is_oldest_first_and_flush_takes_the_unsettled_too() -> None:
    c = make()
    write(c, "b", 1.0, new=True)
    write(c, "a", 1.1, new=True)
    write(c, "c", 5.0, new=True)
    assert [ch.path for ch in c.ready(2.0)] == [p("b"), p("a")]
    c.feed("modified", p("d"), now=5.0)  # still being written
    assert [ch.path for ch in c.flush()] == [p("c"), p("d")]


def test_a_file_just_created_waits_briefly_for_its_open_with_no_debounce() -> None:
    """inotify queues a new file's create and open within one open() call: a reader that
    sees the create alone must not report the file before its writer has even opened it."""
    c = make(0.0)
    c.feed("created", p("a.py"), now=1.0)
    assert c.ready(1.0) == []
    assert c.next_due() == pytest.approx(1.0 + FRESH_S)
    c.feed("opened", p("a.py"), now=1.0001)
    c.feed("modified", p("a.py"), now=1.0002)
    assert c.ready(1.0 + FRESH_S) == []  # now being written: held for its close
    c.feed("closed", p("a.py"), now=1.0003)
    assert c.ready(1.0003) == [Change(p("a.py"), "created", False)]
    # Made without an open (a link, a node): reported once the grace is over.
    c.feed("created", p("link"), now=2.0)
    assert c.ready(2.0 + FRESH_S) == [Change(p("link"), "created", False)]
    # Directories and files moved in are complete when they appear.
    c.feed("created", p("d"), is_dir=True, now=3.0)
    c.feed("moved", "", dest=p("in.txt"), now=3.0)
    assert c.ready(3.0) == [Change(p("d"), "created", True), Change(p("in.txt"), "created", False)]
    # Where closes are not reported, a new file is not waited for.
    plain = make(0.0, reports_close=False)
    plain.feed("created", p("a.py"), now=1.0)
    assert plain.ready(1.0) == [Change(p("a.py"), "created", False)]

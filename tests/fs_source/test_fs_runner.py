"""The runner function in this process: arguments, the plugin door, the fields and
delivery ids it stores, and one real watch (watchdog on a tmp dir) through run()."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from waitbus import SourceSpec
from waitbus_sources_fs import SOURCE, run
from waitbus_sources_fs._coalesce import Change
from waitbus_sources_fs._ignore import Paths, Root
from waitbus_sources_fs._runner import _Emitter, delivery_id, fields_for, parse_duration


def stored() -> list[Any]:
    from waitbus_store import Store, resolve_paths

    db = resolve_paths().db
    if not db.exists():
        return []
    with Store(db) as store:
        return [r.to_frame() for r in store.read_after(0) if r.event_type == "fs_change"]


def test_the_spec_comes_through_the_plugin_door() -> None:
    from waitbus._sources import get_source

    spec = get_source("fs")
    assert isinstance(spec, SourceSpec)
    assert spec is SOURCE or spec == SOURCE
    assert spec.event_types == ("fs_change", "fs_gap")
    assert spec.entity_key == ("fields.path",)
    assert spec.runner is not None
    assert spec.routes == ()


@pytest.mark.parametrize(("text", "seconds"), [("0.2s", 0.2), ("200ms", 0.2), ("1", 1.0), ("0", 0.0), ("1m", 60.0)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "fast", "-1s", "1h", "11m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_a_missing_path_is_exit_2_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([str(tmp_path), str(tmp_path / "nope")]) == 2
    assert "no such file or directory" in capsys.readouterr().err
    assert stored() == []


def test_usage_errors_are_exit_2_and_help_is_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run([]) == 2
    assert run([str(tmp_path), "--debounce", "soon"]) == 2
    assert "--debounce" in capsys.readouterr().err
    assert run(["--help"]) == 0
    assert "waitbus source fs" in capsys.readouterr().out


def test_fields_and_delivery_ids(tmp_path: Path) -> None:
    f = tmp_path / "src" / "app.py"
    f.parent.mkdir()
    f.write_text("x = 1\n")
    root = Root(str(tmp_path), recursive=True)
    fields = fields_for(Change(str(f), "modified", False), root)
    assert fields is not None
    st = f.stat()
    assert fields == {
        "path": str(f),
        "rel": "src/app.py",
        "change": "modified",
        "is_dir": False,
        "size": 6,
        "mtime_ns": st.st_mtime_ns,
        "root": str(tmp_path),
    }
    # Same file state -> same id (a restart cannot store it twice); new content -> new id.
    assert delivery_id(fields) == delivery_id(dict(fields))
    f.write_text("x = 22\n")
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    again = fields_for(Change(str(f), "modified", False), root)
    assert again is not None and delivery_id(again) != delivery_id(fields)
    # A change to a path that is gone by emit time is left to the deletion that follows.
    assert fields_for(Change(str(tmp_path / "gone"), "created", False), root) is None
    gone = fields_for(Change(str(tmp_path / "gone"), "deleted", False), root)
    assert gone is not None and gone["size"] is None and gone["mtime_ns"] is None
    moved = fields_for(Change(str(f), "moved", False, src=str(tmp_path / "old.py")), root)
    assert moved is not None and moved["src"] == str(tmp_path / "old.py") and moved["dest"] == str(f)


def test_emitting_the_same_change_twice_stores_it_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "a.txt"
    f.write_text("hello")
    emitter = _Emitter(Paths([Root(str(tmp_path), recursive=False)], ()), json_lines=False)
    assert emitter.emit(Change(str(f), "modified", False))
    assert emitter.emit(Change(str(f), "modified", False))  # what a restarted runner would do
    (frame,) = stored()
    assert frame.summary == "fs modified a.txt"
    assert frame.owner is None and frame.repo is None
    out = capsys.readouterr().out.splitlines()
    assert out == [f"{frame.event_id} fs modified a.txt"] * 2


@pytest.mark.timeout(60)
def test_run_in_process_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """run() itself, in this (main) thread, on a real watchdog observer. A helper thread
    rewrites the file until run() returns: writes made before the watch is added are not
    seen, so it keeps writing rather than guessing when the watch is ready."""
    target = tmp_path / "note.txt"
    done = threading.Event()

    def keep_writing() -> None:
        n = 0
        while not done.wait(0.3):
            n += 1
            target.write_text(f"v{n}\n")

    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    writer = threading.Thread(target=keep_writing, daemon=True)
    writer.start()
    try:
        code = run([str(tmp_path), "--once", "--debounce", "50ms", "--json"])
    finally:
        done.set()
        writer.join(5)
    assert code == 0
    (frame,) = stored()
    assert frame.event_type == "fs_change"
    assert frame.fields["path"] == str(target)
    assert frame.fields["change"] in {"created", "modified"}
    assert frame.fields["size"] >= 3
    out, err = capsys.readouterr()
    assert f'"event_id": "{frame.event_id}"' in out
    if sys.platform.startswith("linux"):
        assert "InotifyWatch" in err  # inotify read in this thread, not watchdog's observer
    # The signal handlers run() set for itself are put back.
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_importing_the_package_does_not_load_the_watching_libraries() -> None:
    import subprocess

    code = "import sys, waitbus_sources_fs; print('watchdog' in sys.modules or 'inotify_simple' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, check=True)
    assert out.stdout.strip() == "False"

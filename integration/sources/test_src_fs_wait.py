"""The README's filesystem example, for real: a hub, `waitbus source fs` watching a tmp
dir, and `waitbus wait --source fs --match 'fields.event_type="fs_change"' --timeout 5m`
in its own process; writing a file unblocks the wait with exit 0."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests._support import WAITBUS


def _wait_for_text(path: Path, text: str, proc: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in path.read_text(errors="replace"):
        assert proc.poll() is None, f"exited {proc.returncode}: {path.read_text(errors='replace')}"
        assert time.monotonic() < deadline, f"never said {text!r}: {path.read_text(errors='replace')}"
        time.sleep(0.02)


@pytest.mark.timeout(90)
def test_wait_unblocks_when_a_watched_file_changes(
    tmp_path: Path, hub: Any, reap: Callable[[Any], Any], await_subscribers: Callable[[int], None]
) -> None:
    watched = tmp_path / "src"
    watched.mkdir()
    source_err = tmp_path / "source.err"
    with source_err.open("wb") as err:
        source = reap(
            subprocess.Popen(
                [WAITBUS, "source", "fs", str(watched), "--recursive"], stdout=subprocess.DEVNULL, stderr=err
            )
        )
    _wait_for_text(source_err, "watching", source)

    waiter = reap(
        subprocess.Popen(
            [
                WAITBUS, "wait", "--source", "fs",
                "--match", 'fields.event_type="fs_change"', "--timeout", "5m",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    )  # fmt: skip
    await_subscribers(1)  # the wait is connected: an event from now on reaches it
    assert waiter.poll() is None  # nothing has changed yet, so it is still blocked

    (watched / "app.py").write_text("print('changed')\n")
    out, err = waiter.communicate(timeout=20)
    assert waiter.returncode == 0, err
    assert "app.py" in out.decode(), out  # the matched event, printed
    source.terminate()
    assert source.wait(15) == 0

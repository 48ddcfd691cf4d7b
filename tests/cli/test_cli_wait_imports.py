"""What `waitbus wait` and `waitbus on` do not import while a hub answers: that is why
they start in about twice a bare interpreter's time (the speed itself is measured in
benchmarks/_startup.py, never here). Each module named was once on this path."""

from __future__ import annotations

import os
import subprocess
import sys

from tests._support import WAITBUS
from waitbus import emit

# msgspec (with typing_extensions, uuid, decimal): ~25 ms; the rest 0.3 to 5 ms each.
NEVER = {
    "msgspec",
    "socket",  # its enum set-up: _socket serves
    "importlib",  # __import__ serves the lazy names
    "typing",
    "typing_extensions",
    "dataclasses",
    "inspect",
    "pathlib",
    "argparse",
    "shutil",
    "lzma",
    "subprocess",
    "tempfile",
    "sqlite3",
    "importlib.metadata",
    "asyncio",
}


def _imports(stderr: str) -> set[str]:
    """Module names from `python -X importtime`'s report."""
    return {line.rsplit("|", 1)[1].strip() for line in stderr.splitlines() if line.startswith("import time:")}


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-X", "importtime", WAITBUS, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=os.environ.copy(),
    )


def test_a_wait_that_times_out_imports_none_of_the_heavy_modules(hub):
    proc = _start("wait", "--source", "x", "--timeout", "1ms")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 124, err
    names = _imports(err)
    assert "waitbus._stream" in names  # it did connect and subscribe
    assert not names & NEVER, sorted(names & NEVER)


def test_on_imports_none_of_them_until_a_match(hub):
    proc = _start("on", "--source", "x", "--timeout", "1ms", "--", "true")
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 124, err
    assert not _imports(err) & NEVER, sorted(_imports(err) & NEVER)


def test_a_match_is_read_and_printed_as_json_without_msgspec(hub, raw_client, reap):
    from tests.cli.test_cli_wait import wait_subscribed

    proc = _start("wait", "--source", "probe", "--json", "--timeout", "30s")
    reap(proc)
    wait_subscribed(raw_client, proc)
    event_id = emit("probe", "tick", fields={"n": 1.5, "s": "é"}).event_id
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f'"event_id":"{event_id}"' in out and '"fields":{"n":1.5,"s":"é"' in out
    # The source's failure rule is looked up after the verdict (importlib.metadata and
    # the plugin's imports come then); the codec and the JSON output never need msgspec.
    assert not _imports(err) & {"msgspec", "typing_extensions", "argparse", "sqlite3"}

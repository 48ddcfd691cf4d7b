"""Every log file the project writes is bounded (SECURITY.md): a process given
WAITBUS_LOG_FILE rotates it by size, whatever writes (logging, print, the fd itself)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from waitbus_store import LOG_BACKUPS, LOG_MAX_BYTES

CHATTY = """
import logging, os, sys
from waitbus_store import bound_log_from_env
bound_log_from_env()
logging.basicConfig(level=logging.INFO)
line = "x" * 1000
for i in range(3000):
    logging.warning("%d %s", i, line)
    print(i, line)
    os.write(2, b"raw " + line.encode() + b"\\n")
print("last line", flush=True)
"""


@pytest.mark.timeout(120)
def test_a_process_writing_9_mb_keeps_its_log_files_bounded(tmp_path: Path) -> None:
    log = tmp_path / "daemon.log"
    log.write_bytes(b"old\n" * (LOG_MAX_BYTES // 2))  # an earlier run's output is kept, then rotated
    env = {"WAITBUS_LOG_FILE": str(log), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", CHATTY], env=env, capture_output=True, timeout=100)
    assert done.returncode == 0, done.stderr
    assert done.stdout == done.stderr == b""  # everything went to the file
    files = sorted(tmp_path.glob("daemon.log*"))
    assert [f.name for f in files] == ["daemon.log"] + [f"daemon.log.{n}" for n in range(1, LOG_BACKUPS + 1)]
    slack = 4096  # one write past the limit before the check rotates
    assert all(f.stat().st_size <= LOG_MAX_BYTES + slack for f in files), [f.stat().st_size for f in files]
    assert log.read_text().rstrip().endswith("last line")


@pytest.mark.timeout(60)
def test_without_the_variable_stdout_and_stderr_are_untouched(tmp_path: Path) -> None:
    code = "from waitbus_store import bound_log_from_env; bound_log_from_env(); print('out')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=50, cwd=tmp_path)
    assert done.stdout == "out\n"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.timeout(60)
def test_a_symlink_where_the_log_goes_is_never_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    log = tmp_path / "daemon.log"
    log.symlink_to(victim)
    code = "from waitbus_store import bound_log_from_env; bound_log_from_env(); print('out')"
    env = {"WAITBUS_LOG_FILE": str(log), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=50)
    assert victim.read_text() == "precious\n"
    assert "cannot write the log file" in done.stderr and done.stdout == "out\n"

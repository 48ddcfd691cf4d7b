"""A real hub daemon in a subprocess, for one test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def connectable(path: Path) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(str(path))
    except OSError:
        return False
    finally:
        s.close()
    return True


class HubProcess:
    """A real hub daemon in a subprocess, for one test."""

    def __init__(self, runtime_dir: str, args: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        self.socket = Path(runtime_dir) / "broadcast.sock"
        self.args = args or []
        self.env = env  # None: this process's environment
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> HubProcess:
        log = self._log()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "waitbus_hub", "--log-level", "WARNING", *self.args],
            stdout=subprocess.DEVNULL,
            stderr=log,
            env=self.env,
        )
        os.close(log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited {self.proc.returncode}: {self.log_text()}")
            if connectable(self.socket):
                return self
            time.sleep(0.005)
        raise RuntimeError("hub did not create its socket in time")

    def _log(self) -> int:
        # A file, not a pipe: a pipe nobody reads would block a chatty hub.
        return os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    @property
    def log_path(self) -> Path:
        return self.socket.parent / "hub-test.log"

    def log_text(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def kill(self) -> None:
        """kill -9: no drain, no cleanup; the socket file is left behind."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(10)

    def terminate(self, timeout: float = 15.0) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

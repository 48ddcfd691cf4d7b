"""Running the real `waitbus` executable of this venv, as a user would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

WAITBUS = str(Path(sys.executable).with_name("waitbus"))


def run_cli(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    input: str | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`waitbus *args` to completion, text output captured; `env` defaults to this
    process's environment (the hermetic one the root conftest set). Without `input`,
    stdin is /dev/null: never the terminal pytest was started from."""
    return subprocess.run(
        [WAITBUS, *args],
        capture_output=True,
        text=True,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        timeout=timeout,
        env=env if env is not None else os.environ.copy(),
        cwd=cwd,
    )

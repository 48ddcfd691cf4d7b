"""``import waitbus`` stays light: no pydantic, typer, prometheus_client or hub code.

Checked in a fresh interpreter (this one has already imported half the world)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

FORBIDDEN = ("pydantic", "typer", "prometheus_client", "waitbus_hub", "waitbus_cli")

IMPORT_ONLY = "import waitbus"
# Touching every public name too: a lazy __getattr__ must not pull the heavy modules either.
EVERY_NAME = "import waitbus\nfor name in waitbus.__all__:\n    getattr(waitbus, name)"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("code", [IMPORT_ONLY, EVERY_NAME], ids=["import", "every-public-name"])
def test_import_waitbus_loads_nothing_heavy(tmp_path: Path, code: str) -> None:
    script = (
        f"{code}\nimport json, sys\nprint(json.dumps({{'file': waitbus.__file__, 'modules': sorted(sys.modules)}}))"
    )
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHONSTARTUP", "PYTHONINSPECT"}}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, cwd=tmp_path, env=env
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    loaded = sorted(m for m in report["modules"] if m.split(".")[0] in FORBIDDEN)
    assert not loaded, f"import waitbus ({report['file']}) loaded {loaded}"

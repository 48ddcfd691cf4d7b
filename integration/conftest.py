"""Shared helper modules for the integration tests, registered under importable names
(pytest runs with --import-mode=importlib, so a test file cannot import another file by
name): the listener test helpers of tests/cli (start a real `waitbus listener serve`,
raw socket requests, the stored rows) and the fuzzers' seeded case generators."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_HELPERS = {
    "waitbus_listener_test_helpers": _HERE.parent / "tests" / "cli" / "test_cli_listener.py",
    "waitbus_fuzz_cases": _HERE / "fuzz" / "cases.py",
    "waitbus_src_pytest_packaging": _HERE / "sources" / "test_src_pytest_packaging.py",  # fresh-venv helpers
}

for _name, _path in _HELPERS.items():
    if _name not in sys.modules:
        _spec = importlib.util.spec_from_file_location(_name, _path)
        assert _spec is not None and _spec.loader is not None
        sys.modules[_name] = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(sys.modules[_name])

"""Shared helpers for the source tests, registered as importable modules.

pytest runs with --import-mode=importlib, so test files cannot import each other or
tests/github/support.py by name; this conftest (loaded before any test module here)
puts them in sys.modules once, and the tests just `import` them.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_HELPERS = {
    "waitbus_github_test_support": _HERE.parents[1] / "tests" / "github" / "support.py",
    "waitbus_pytest_source_helpers": _HERE / "test_src_pytest_session.py",
}

for _name, _path in _HELPERS.items():
    if _name not in sys.modules:
        _spec = importlib.util.spec_from_file_location(_name, _path)
        assert _spec is not None and _spec.loader is not None
        sys.modules[_name] = importlib.util.module_from_spec(_spec)
        _spec.loader.exec_module(sys.modules[_name])

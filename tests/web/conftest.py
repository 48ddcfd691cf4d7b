"""Fixtures for the waitbus-web tests: a real hub and a real `waitbus-web` process
(support.py, shared with integration/web)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_NAME = "waitbus_web_test_support"  # the same name integration/conftest.py registers
if _NAME not in sys.modules:
    _spec = importlib.util.spec_from_file_location(_NAME, Path(__file__).with_name("support.py"))
    assert _spec is not None and _spec.loader is not None
    sys.modules[_NAME] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules[_NAME])
support = sys.modules[_NAME]
web_factory = support.web_factory
web = support.web

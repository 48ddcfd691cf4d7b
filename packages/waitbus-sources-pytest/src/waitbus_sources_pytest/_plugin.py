"""The `pytest11` entry point (plugin name `waitbus`): an option and a switch.

Loading this module costs nothing beyond the option: the recorder is registered in
pytest_configure, and the SDK is imported only when the session ends, on the
publishing thread. Off with `-p no:waitbus` (pytest never loads this module) or
`WAITBUS_PYTEST=0` (the recorder is not registered); off by default in a session
nested inside another pytest's test (WAITBUS_PYTEST=1 turns it on there).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._fields import env_flag

if TYPE_CHECKING:
    import pytest

RECORDER_NAME = "waitbus-session"


def pytest_addoption(parser: pytest.Parser) -> None:
    # Added even when WAITBUS_PYTEST=0, so an addopts line naming it stays valid.
    group = parser.getgroup("waitbus", "publish this session to the local waitbus event bus")
    group.addoption(
        "--waitbus-failures",
        action="store_true",
        default=False,
        dest="waitbus_failures",
        help="also publish one pytest_failure event per failing test (or set WAITBUS_PYTEST_FAILURES=1). "
        "Disable the plugin with -p no:waitbus or WAITBUS_PYTEST=0.",
    )


def pytest_configure(config: pytest.Config) -> None:
    switch = env_flag(os.environ.get("WAITBUS_PYTEST"))
    if switch is False:
        return
    if switch is None and "PYTEST_CURRENT_TEST" in os.environ:
        # A session inside another session's test: pytester runs (a plugin's test suite
        # makes hundreds) or a test spawning pytest. Not the user's run: stay quiet
        # unless WAITBUS_PYTEST=1 asks for it.
        return
    if hasattr(config, "workerinput"):
        return  # a pytest-xdist worker: its reports reach the controller, which publishes
    if config.pluginmanager.has_plugin(RECORDER_NAME):
        return
    from ._session import SessionRecorder

    failures = bool(config.getoption("waitbus_failures", False)) or (
        env_flag(os.environ.get("WAITBUS_PYTEST_FAILURES")) is True
    )
    config.pluginmanager.register(SessionRecorder(config, failures=failures), RECORDER_NAME)

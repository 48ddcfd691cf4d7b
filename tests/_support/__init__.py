"""The one test support package shared by tests/ and integration/: one way to run the
CLI, one hub process, one wait_until, and a fake clock for tests that assert on time.
The pytest fixtures stay in the root conftest.py; this package holds what they use."""

from tests._support._cli import WAITBUS, run_cli
from tests._support._clock import Clock, FakeClock
from tests._support._hub import HubProcess, connectable
from tests._support._net import free_port
from tests._support._waiting import wait_until

__all__ = ["WAITBUS", "run_cli", "Clock", "FakeClock", "HubProcess", "connectable", "free_port", "wait_until"]

"""Injectable time: a test that asserts on durations passes a FakeClock to the code
under test instead of measuring the wall clock on a shared, loaded machine."""

from __future__ import annotations

from typing import Protocol


class Clock(Protocol):
    """What code that reads time takes: `time.monotonic` (or `time.time`) satisfies it."""

    def __call__(self) -> float: ...


class FakeClock:
    """A clock that moves only when told: `advance` (or a `sleep` handed to the code)."""

    def __init__(self, start: float = 1_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        assert seconds >= 0, "time does not go backwards"
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.advance(seconds)

"""Finding the check behind a bare podman `health_status` event.

The inspect data and event times are podman 4.3's own, captured on this machine: three
checks run back to back (fail, pass, pass), each event stamped inside its check's span.
"""

from __future__ import annotations

from typing import Any

import pytest

from waitbus_sources_docker._health import check_timeout_s, health_at, parse_rfc3339_ns

LOG = [
    {"Start": "2026-11-26T01:13:05.120871492Z", "End": "2026-11-26T01:13:05.206071667Z", "ExitCode": 1, "Output": ""},
    {"Start": "2026-11-26T01:13:05.295150427Z", "End": "2026-11-26T01:13:05.366439264Z", "ExitCode": 0, "Output": ""},
    {"Start": "2026-11-26T01:13:05.392188138Z", "End": "2026-11-26T01:13:05.482025469Z", "ExitCode": 0, "Output": ""},
]
EVENTS = [1795655585175467541, 1795655585361925922, 1795655585448976116]  # health_status timeNano


def inspect(log: list[dict[str, Any]], status: str, running: bool = True) -> dict[str, Any]:
    return {
        "State": {"Running": running, "Health": {"Status": status, "FailingStreak": 0, "Log": log}},
        "Config": {"Healthcheck": {"Test": ["CMD-SHELL", "test -e /tmp/ok"], "Timeout": 10_000_000_000}},
    }


def test_rfc3339_nanoseconds() -> None:
    assert parse_rfc3339_ns("2026-11-26T01:13:05.120871492Z") == 1795655585120871492
    assert parse_rfc3339_ns("2026-11-26T03:13:05.1+02:00") == 1795655585100000000
    assert parse_rfc3339_ns("2026-11-26T01:13:05Z") == 1795655585000000000
    assert parse_rfc3339_ns("yesterday") is None
    assert parse_rfc3339_ns(None) is None


def test_each_event_finds_its_own_check_as_it_happens() -> None:
    # live: when event i is read, the log holds checks 0..i and the status is check i's
    assert health_at(inspect(LOG[:1], "unhealthy"), EVENTS[0]) == ("unhealthy", True)
    assert health_at(inspect(LOG[:2], "healthy"), EVENTS[1]) == ("healthy", True)
    assert health_at(inspect(LOG[:3], "healthy"), EVENTS[2]) == ("healthy", True)


def test_a_check_still_running_means_ask_again() -> None:
    # podman emits the event when the check starts: before the log has its entry
    assert health_at(inspect([], "starting"), EVENTS[0]) == (None, False)
    assert health_at(inspect(LOG[:1], "unhealthy"), EVENTS[1]) == (None, False), "not check 0's stale status"


def test_a_replayed_event_reads_its_own_check_not_the_current_status() -> None:
    assert health_at(inspect(LOG, "healthy"), EVENTS[0]) == ("unhealthy", True)
    assert health_at(inspect(LOG, "healthy"), EVENTS[1]) == ("healthy", True)


def test_a_check_no_longer_in_the_log_or_a_stopped_container_gives_up() -> None:
    assert health_at(inspect(LOG[1:], "healthy"), EVENTS[0]) == (None, True)
    assert health_at(inspect(LOG[:1], "unhealthy", running=False), EVENTS[1]) == (None, True)
    assert health_at({"State": {"Running": True}}, EVENTS[0]) == (None, True)  # no health check at all


@pytest.mark.parametrize(("config", "expected"), [({"Healthcheck": {"Timeout": 3_000_000_000}}, 3.0), ({}, 30.0)])
def test_check_timeout(config: dict[str, Any], expected: float) -> None:
    assert check_timeout_s({"Config": config}) == expected

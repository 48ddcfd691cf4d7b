"""The hub's defaults live in one place (waitbus_hub's HEARTBEAT_SEC, LAG_LIMIT_BYTES, ...):
HubConfig, the hub's command line and the CLI's [hub] config section all show them."""

from __future__ import annotations

import pytest

import waitbus_hub
from waitbus_cli._config import Hub as HubSection
from waitbus_hub import HubConfig, build_parser


def test_every_reader_of_the_hub_defaults_agrees(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(waitbus_hub.HEARTBEAT_ENV, raising=False)
    parsed = build_parser().parse_args([])
    config, section = HubConfig(), HubSection()
    assert parsed.heartbeat_sec == config.heartbeat_sec == section.heartbeat_sec == waitbus_hub.HEARTBEAT_SEC
    assert parsed.lag_limit_bytes == config.lag_limit_bytes == section.lag_limit_bytes == waitbus_hub.LAG_LIMIT_BYTES
    assert parsed.retention_interval == config.retention_interval_s == waitbus_hub.RETENTION_INTERVAL_S


def test_the_heartbeat_environment_variable_moves_the_command_line_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(waitbus_hub.HEARTBEAT_ENV, "7")
    assert build_parser().parse_args([]).heartbeat_sec == 7

"""The one configuration model: `~/.config/waitbus/config.toml` plus `WAITBUS_*` env vars.

Precedence, first hit wins: environment (`WAITBUS_<SECTION>__<KEY>`, and the
documented short forms `WAITBUS_PROM_OWNER` / `WAITBUS_PROM_REPO`), then the TOML
file (`$WAITBUS_CONFIG`, else the platform's user config dir), then defaults.
`waitbus config schema` prints this model as JSON Schema and as a commented example.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

import waitbus_hub as hub_defaults
from waitbus_wire import parse_duration

from ._config_file import config_path
from ._units import parse_size


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Prometheus(_Section):
    """The owner/repo an Alertmanager alert's event gets when the alert has neither label."""

    owner: str | None = Field(None, description="Owner of alerts with no owner/repo label (for --repo filters).")
    repo: str | None = Field(None, description="Repository of alerts with no owner/repo label.")


class Retention(_Section):
    """Bounds on the event log, applied by `waitbus db prune` and hourly by the hub."""

    older_than: str | None = Field("30d", description="Delete events older than this (e.g. 30d); empty for no limit.")
    max_size: str | None = Field("500MB", description="Keep the log under this size (e.g. 500MB).")
    max_rows: int | None = Field(None, ge=0, description="Keep at most this many events.")

    @field_validator("older_than")
    @classmethod
    def _duration(cls, v: str | None) -> str | None:
        if v:
            parse_duration(v)
        return v or None

    @field_validator("max_size")
    @classmethod
    def _size(cls, v: str | None) -> str | None:
        if v:
            parse_size(v)
        return v or None

    def older_than_s(self) -> float | None:
        return parse_duration(self.older_than) if self.older_than else None

    def max_bytes(self) -> int | None:
        return parse_size(self.max_size) if self.max_size else None


class Hub(_Section):
    heartbeat_sec: int = Field(
        hub_defaults.HEARTBEAT_SEC,
        ge=1,
        le=hub_defaults.MAX_HEARTBEAT_SEC,
        description="Seconds between heartbeats to subscribers.",
    )
    lag_limit_bytes: int = Field(
        hub_defaults.LAG_LIMIT_BYTES,
        ge=hub_defaults.MIN_LAG_LIMIT_BYTES,
        description="Evict a subscriber queued past this.",
    )
    idle_exit_sec: float | None = Field(
        None,
        ge=0,
        description="Seconds a hub started by a client (autostart) lives with no client; 0 never "
        f"(unset: {hub_defaults.IDLE_EXIT_ENV}, else {hub_defaults.AUTOSTART_IDLE_EXIT_SEC:g}). "
        "Hubs run by systemd, launchd or by hand never exit idle.",
    )


class Fs(_Section):
    """What the supervised fs source (`waitbus fs-watch run`, its unit) watches."""

    paths: list[str] = Field(
        default_factory=list,
        description="Directories or files watched recursively (`~` expands); empty: nothing is watched.",
    )


class Listener(_Section):
    port: int = Field(9000, ge=1, le=65535, description="Loopback port of the webhook listener.")
    request_timeout: float = Field(
        30.0, gt=0, le=3600, description="Seconds a sender has for one whole request (headers and body)."
    )


class Settings(BaseSettings):
    """waitbus configuration."""

    model_config = SettingsConfigDict(env_prefix="WAITBUS_", env_nested_delimiter="__", extra="forbid")

    prometheus: Prometheus = Prometheus()
    retention: Retention = Retention()
    hub: Hub = Hub()
    listener: Listener = Listener()
    fs: Fs = Fs()
    conditions: dict[str, str | list[str]] = Field(
        default_factory=dict,
        description="Named predicates for `waitbus wait --cond NAME`: name = ['key=json', ...].",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, _ShortEnv(settings_cls), env_settings, TomlConfigSettingsSource(settings_cls))


class _ShortEnv(PydanticBaseSettingsSource):
    """The documented short env names, which do not follow the nested pattern."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        prom = {
            k: os.environ[e]
            for k, e in (("owner", "WAITBUS_PROM_OWNER"), ("repo", "WAITBUS_PROM_REPO"))
            if os.environ.get(e)
        }
        out: dict[str, Any] = {"prometheus": prom} if prom else {}
        if os.environ.get(hub_defaults.IDLE_EXIT_ENV):
            out["hub"] = {"idle_exit_sec": os.environ[hub_defaults.IDLE_EXIT_ENV]}
        return out


def load(path: Path | None = None) -> Settings:
    """Read the configuration (raises pydantic.ValidationError or a TOML error)."""
    target = path or config_path()
    if path is not None and not path.exists():
        raise FileNotFoundError(f"no config file at {path}")

    class _FromFile(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": target if target.exists() else None})

    try:
        return _FromFile()
    except RecursionError:  # tomllib recurses per level of nesting
        raise ValueError(f"{target} nests arrays or tables too deeply to read") from None

"""The hub's defaults and bounds, in one place: HubConfig, the command line
(`waitbus-hub`, `waitbus broadcast serve`) and the CLI's [hub] config section read them here."""

from __future__ import annotations

from waitbus_wire import DEFAULT_HEARTBEAT_SEC

HEARTBEAT_SEC = DEFAULT_HEARTBEAT_SEC  # between heartbeat frames (the wire's default)
HEARTBEAT_ENV = "WAITBUS_HEARTBEAT_SEC"  # overrides HEARTBEAT_SEC for the command line
MAX_HEARTBEAT_SEC = 3600
LAG_LIMIT_BYTES = 8 * 1024 * 1024  # evict a subscriber whose unsent queue passes this
MIN_LAG_LIMIT_BYTES = 65536
RETENTION_INTERVAL_S = 3600.0  # between retention passes
AUTOSTART_IDLE_EXIT_SEC = 600.0  # how long a hub a client started lives with no client
IDLE_EXIT_ENV = "WAITBUS_IDLE_EXIT_SEC"  # overrides AUTOSTART_IDLE_EXIT_SEC

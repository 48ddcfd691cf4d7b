"""waitbus-hub: the broadcast daemon (docs/wire.md). Run it with `waitbus broadcast serve`.

Names load on first use (PEP 562), so reading the defaults costs no server import.
"""

from __future__ import annotations

from waitbus_wire import lazy_exports

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ._defaults import (
        AUTOSTART_IDLE_EXIT_SEC,
        HEARTBEAT_ENV,
        HEARTBEAT_SEC,
        IDLE_EXIT_ENV,
        LAG_LIMIT_BYTES,
        MAX_HEARTBEAT_SEC,
        MIN_LAG_LIMIT_BYTES,
        RETENTION_INTERVAL_S,
    )
    from ._errors import HubError
    from ._main import build_parser, main
    from ._metrics import Metrics
    from ._server import Hub, HubConfig

_WHERE = {
    "AUTOSTART_IDLE_EXIT_SEC": "._defaults",
    "HEARTBEAT_ENV": "._defaults",
    "HEARTBEAT_SEC": "._defaults",
    "IDLE_EXIT_ENV": "._defaults",
    "LAG_LIMIT_BYTES": "._defaults",
    "MAX_HEARTBEAT_SEC": "._defaults",
    "MIN_LAG_LIMIT_BYTES": "._defaults",
    "RETENTION_INTERVAL_S": "._defaults",
    "build_parser": "._main",
    "main": "._main",
    "Metrics": "._metrics",
    "Hub": "._server",
    "HubConfig": "._server",
    "HubError": "._errors",
}

__all__ = [
    "AUTOSTART_IDLE_EXIT_SEC",
    "HEARTBEAT_ENV",
    "HEARTBEAT_SEC",
    "IDLE_EXIT_ENV",
    "LAG_LIMIT_BYTES",
    "MAX_HEARTBEAT_SEC",
    "MIN_LAG_LIMIT_BYTES",
    "RETENTION_INTERVAL_S",
    "Hub",
    "HubConfig",
    "HubError",
    "Metrics",
    "build_parser",
    "main",
]
assert sorted(__all__) == sorted(_WHERE)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

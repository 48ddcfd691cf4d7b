"""waitbus: the workstation-local status bus. Emit events; wait on them with no polling.

    from waitbus import emit, wait_for
    emit("pytest", "pytest_session", fields={"outcome": "passed"})
    frame = wait_for('fields.event_type="pytest_session"', source="pytest", timeout=600)

Names load on first use (PEP 562), so `import waitbus` costs almost nothing and a
script pays only for the part of the API it touches.
"""

from __future__ import annotations

from waitbus_wire import lazy_exports

TYPE_CHECKING = False  # not `from typing import ...`: typing alone costs ~5 ms to import
if TYPE_CHECKING:
    from waitbus_wire import (
        Clause,
        EventError,
        EventFrame,
        EventView,
        ExitCode,
        PredicateError,
        format_duration,
        parse_duration,
    )

    from ._agent import SentMessage, send_message
    from ._api import asubscribe, request, respond, subscribe, wait_event, wait_for
    from ._autostart import autostart_enabled
    from ._emit import EmitResult, emit, fetch_payload
    from ._errors import HubRejected, HubUnavailable, WaitbusError
    from ._hubinfo import hub_stats, hub_status
    from ._match import Matcher
    from ._plugin_index import SOURCES_GROUP
    from ._registry import register_condition, register_evaluator
    from ._sources import (
        DAEMONS_GROUP,
        HttpRequest,
        HttpResponse,
        Route,
        SourceSpec,
        Supervision,
        all_routes,
        entity_keys,
        find_source,
        installed_sources,
        register_source,
    )
    from ._stream import Subscription
    from ._verdict import is_failure

_WHERE = {
    "Clause": "waitbus_wire",
    "EventError": "waitbus_wire",
    "EventFrame": "waitbus_wire",
    "EventView": "waitbus_wire",
    "ExitCode": "waitbus_wire",
    "PredicateError": "waitbus_wire",
    "parse_duration": "waitbus_wire",
    "format_duration": "waitbus_wire",
    "asubscribe": "waitbus._api",
    "request": "waitbus._api",
    "SentMessage": "waitbus._agent",
    "send_message": "waitbus._agent",
    "respond": "waitbus._api",
    "subscribe": "waitbus._api",
    "wait_for": "waitbus._api",
    "wait_event": "waitbus._api",
    "autostart_enabled": "waitbus._autostart",
    "hub_stats": "waitbus._hubinfo",
    "DAEMONS_GROUP": "waitbus._sources",
    "hub_status": "waitbus._hubinfo",
    "SOURCES_GROUP": "waitbus._plugin_index",
    "all_routes": "waitbus._sources",
    "installed_sources": "waitbus._sources",
    "find_source": "waitbus._sources",
    "is_failure": "waitbus._verdict",
    "EmitResult": "waitbus._emit",
    "emit": "waitbus._emit",
    "fetch_payload": "waitbus._emit",
    "HubRejected": "waitbus._errors",
    "HubUnavailable": "waitbus._errors",
    "WaitbusError": "waitbus._errors",
    "SourceSpec": "waitbus._sources",
    "Supervision": "waitbus._sources",
    "Route": "waitbus._sources",
    "HttpRequest": "waitbus._sources",
    "HttpResponse": "waitbus._sources",
    "Matcher": "waitbus._match",
    "register_condition": "waitbus._registry",
    "register_evaluator": "waitbus._registry",
    "register_source": "waitbus._sources",
    "entity_keys": "waitbus._sources",
    "Subscription": "waitbus._stream",
}

__all__ = [
    "Clause",
    "DAEMONS_GROUP",
    "EmitResult",
    "EventError",
    "EventFrame",
    "EventView",
    "ExitCode",
    "HubRejected",
    "HttpRequest",
    "HttpResponse",
    "HubUnavailable",
    "Matcher",
    "PredicateError",
    "Route",
    "SOURCES_GROUP",
    "SourceSpec",
    "Supervision",
    "Subscription",
    "WaitbusError",
    "all_routes",
    "asubscribe",
    "autostart_enabled",
    "emit",
    "entity_keys",
    "fetch_payload",
    "find_source",
    "hub_stats",
    "hub_status",
    "installed_sources",
    "is_failure",
    "parse_duration",
    "format_duration",
    "register_condition",
    "register_evaluator",
    "register_source",
    "request",
    "send_message",
    "SentMessage",
    "respond",
    "subscribe",
    "wait_event",
    "wait_for",
]
assert sorted(__all__) == sorted(_WHERE)


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

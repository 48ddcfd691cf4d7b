"""waitbus: the workstation-local status bus. Emit events; wait on them with no polling.

from waitbus import emit, wait_for
emit("pytest", "pytest_session", fields={"outcome": "passed"})
frame = wait_for('fields.event_type="pytest_session"', source="pytest", timeout=600)
"""

from waitbus_wire import EventError, EventFrame, PredicateError

from ._api import asubscribe, request, respond, subscribe, wait_for
from ._emit import EmitResult, emit, fetch_payload
from ._errors import HubRejected, HubUnavailable, WaitbusError
from ._registry import SourceSpec, register_condition, register_evaluator, register_source
from ._stream import Subscription

__all__ = [
    "EmitResult",
    "EventError",
    "EventFrame",
    "HubRejected",
    "HubUnavailable",
    "PredicateError",
    "SourceSpec",
    "Subscription",
    "WaitbusError",
    "asubscribe",
    "emit",
    "fetch_payload",
    "register_condition",
    "register_evaluator",
    "register_source",
    "request",
    "respond",
    "subscribe",
    "wait_for",
]

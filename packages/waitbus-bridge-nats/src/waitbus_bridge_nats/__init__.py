"""waitbus-bridge-nats: carry events between the waitbus buses of several machines
through one NATS JetStream stream.

    waitbus-bridge-nats --url nats://nats.internal:4222 --source pytest      # or: waitbus bridge nats ...
    waitbus-bridge-nats --url nats://... --source pytest --drain             # CI: publish, then exit

Outbound publishes local events that match a predicate (nothing leaves without one)
as `<prefix>.<source>.<event_type>` with `Nats-Msg-Id` = the event id; inbound stores
other machines' events here with `fields.remote` naming their origin. See docs/bridge.md.
"""

from __future__ import annotations

from waitbus_store import ConfigError  # bad flags, config, predicate or secrets: exit 2

from ._config import BridgeConfig, consumer_name, load
from ._envelope import MSG_ID_HEADER, ORIGIN_HEADER, Envelope, decode, subject_for
from ._errors import (
    FAILED,
    INTERRUPTED,
    OK,
    STORE,
    UNREACHABLE,
    USAGE,
    AuthFailed,
    BridgeError,
    StoreFailed,
    Unreachable,
)
from ._predicate import REMOTE_KEY, OutboundFilter, build_filter, is_bridged
from ._run import main, serve
from ._secrets import SECRET_NAMES

__all__ = [
    "BridgeConfig",
    "load",
    "main",
    "serve",
    "consumer_name",
    "subject_for",
    "Envelope",
    "decode",
    "MSG_ID_HEADER",
    "ORIGIN_HEADER",
    "REMOTE_KEY",
    "SECRET_NAMES",
    "OutboundFilter",
    "build_filter",
    "is_bridged",
    "BridgeError",
    "ConfigError",
    "AuthFailed",
    "Unreachable",
    "StoreFailed",
    "OK",
    "FAILED",
    "USAGE",
    "STORE",
    "UNREACHABLE",
    "INTERRUPTED",
]

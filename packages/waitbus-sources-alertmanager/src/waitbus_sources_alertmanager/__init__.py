"""Prometheus Alertmanager source for waitbus.

`POST /alertmanager` and `POST /watchdog` (mounted by `waitbus listener serve`) take what
a stock Alertmanager webhook receiver sends and store one event per alert;
`waitbus watchdog-check run` (watchdog_check_main) records whether the always-firing
Watchdog alert is fresh or stale. See docs/source-alertmanager.md.

Loading SOURCE (which `waitbus source list` does for every installed source) imports
only the plugin door; the handlers and the rest load on first use (PEP 562).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from waitbus import Route, SourceSpec
from waitbus_wire import lazy_exports

from ._names import ALERT_EVENT, HMAC_SECRET, SIGNATURE_HEADER, SOURCE_NAME, TOKEN_SECRET, WATCHDOG_EVENT

_AUTH_HEADERS = ("authorization", SIGNATURE_HEADER)  # a bearer token or a proxy's HMAC

TYPE_CHECKING = False
if TYPE_CHECKING:
    from waitbus import HttpRequest, HttpResponse

    from ._auth import AuthError, authenticate, sign
    from ._errors import AlertmanagerError
    from ._payload import Alert, PayloadError, parse_payload
    from ._watchdog import parse_duration


def handle_alertmanager(req: HttpRequest) -> HttpResponse:
    """`POST /alertmanager`: one `prometheus_alert` event per alert of the notification."""
    from ._routes import handle_alertmanager as handler

    return handler(req)


def handle_watchdog(req: HttpRequest) -> HttpResponse:
    """`POST /watchdog`: the Watchdog alert as `prometheus_watchdog` events; touches the heartbeat file."""
    from ._routes import handle_watchdog as handler

    return handler(req)


def watchdog_check_main(argv: list[str], now_ns: Callable[[], int] = time.time_ns) -> int:
    """`waitbus watchdog-check run ARGS`: exit 0 fresh, 1 stale, 2 bad args, 4 state not writable.
    `now_ns` is the clock staleness is judged by (a test's fake one, so it need not sleep)."""
    from ._watchdog import watchdog_check_main as main

    return main(argv, now_ns)


SOURCE = SourceSpec(
    name=SOURCE_NAME,
    event_types=(ALERT_EVENT, WATCHDOG_EVENT),
    summary="[{fields.status}] {fields.alertname} ({fields.severity}): {fields.summary}",
    entity_key=("fields.fingerprint",),
    description=(
        "Prometheus Alertmanager webhook receiver: one prometheus_alert event per alert "
        "(firing, resolved), the Watchdog heartbeat as prometheus_watchdog. Auth: bearer "
        f"token `{TOKEN_SECRET}` or an HMAC `X-Waitbus-Signature-256` with `{HMAC_SECRET}`."
    ),
    routes=(
        Route(
            "POST",
            "/alertmanager",
            handle_alertmanager,
            "Alertmanager webhook: one event per alert",
            auth_headers=_AUTH_HEADERS,
        ),
        Route(
            "POST",
            "/watchdog",
            handle_watchdog,
            "the always-firing Watchdog alert (heartbeat)",
            auth_headers=_AUTH_HEADERS,
        ),
    ),
)

_WHERE = {
    "AlertmanagerError": "._errors",
    "AuthError": "._auth",
    "authenticate": "._auth",
    "sign": "._auth",
    "Alert": "._payload",
    "PayloadError": "._payload",
    "parse_payload": "._payload",
    "parse_duration": "._watchdog",
}

__all__ = [
    "SOURCE",
    "ALERT_EVENT",
    "HMAC_SECRET",
    "SIGNATURE_HEADER",
    "SOURCE_NAME",
    "TOKEN_SECRET",
    "WATCHDOG_EVENT",
    "Alert",
    "AlertmanagerError",
    "AuthError",
    "PayloadError",
    "authenticate",
    "handle_alertmanager",
    "handle_watchdog",
    "parse_duration",
    "parse_payload",
    "sign",
    "watchdog_check_main",
]


__getattr__, __dir__ = lazy_exports(__name__, _WHERE)

"""The listener's Prometheus counters. prometheus_client is imported here only, when a
listener starts, so no other verb pays for it."""

from __future__ import annotations

from typing import Any

# HTTP status -> the `reason` label of waitbus_ingest_errors_total
REASONS = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    411: "length_required",
    413: "too_large",
    422: "bad_request",
    500: "handler_error",
    503: "unavailable",
}


class ListenerMetrics:
    """waitbus_listener_requests_total{route,status}: every request (route is the path,
    or "unmatched" for a 404, so random paths cannot grow the label set);
    waitbus_ingest_events_total{source}: deliveries a source route (or /emit, source
    "emit") accepted with a 2xx; waitbus_ingest_errors_total{source,reason}: the ones it
    refused or failed."""

    def __init__(self) -> None:
        import prometheus_client as prom

        prom.disable_created_metrics()  # type: ignore[no-untyped-call]  # the _created series only double the output here
        self._prom: Any = prom
        self.registry = prom.CollectorRegistry(auto_describe=True)
        self.requests = prom.Counter(
            "waitbus_listener_requests_total",
            "HTTP requests answered by the listener",
            ["route", "status"],
            registry=self.registry,
        )
        self.events = prom.Counter(
            "waitbus_ingest_events_total",
            "Deliveries a source route or POST /emit accepted (2xx)",
            ["source"],
            registry=self.registry,
        )
        self.errors = prom.Counter(
            "waitbus_ingest_errors_total",
            "Deliveries a source route or POST /emit refused or failed",
            ["source", "reason"],
            registry=self.registry,
        )

    def request(self, route: str, status: int, source: str | None) -> None:
        self.requests.labels(route=route, status=str(status)).inc()
        if source is None:
            return
        if 200 <= status < 300:
            self.events.labels(source=source).inc()
        elif status >= 400:
            self.errors.labels(source=source, reason=REASONS.get(status, f"http_{status}")).inc()

    def exposition(self) -> tuple[bytes, str]:
        return self._prom.generate_latest(self.registry), self._prom.CONTENT_TYPE_LATEST

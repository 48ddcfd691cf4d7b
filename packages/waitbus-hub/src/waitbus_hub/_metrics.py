"""Hub counters as plain ints (free on the hot path), exported to Prometheus only
when asked: prometheus_client is imported lazily so an idle hub stays small."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# Upper bounds (seconds) of the send-latency histogram: doorbell -> bytes handed to
# the kernel for every subscriber of a batch.
LATENCY_BUCKETS = (50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3, 0.25, 1.0)


@dataclass
class Metrics:
    events_broadcast: int = 0
    frames_sent: int = 0
    evictions: int = 0
    rejected_connections: int = 0
    pruned: int = 0
    latency_counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS) + 1))
    latency_sum: float = 0.0

    def observe_latency(self, seconds: float) -> None:
        self.latency_counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.latency_sum += seconds


def serve_metrics(port: int, metrics: Metrics, subscribers: Callable[[], int]) -> None:
    """Expose the counters on 127.0.0.1:port/metrics (a daemon thread, _metrics_http)."""
    from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

    class _Collector:
        def collect(self) -> Iterator[Any]:
            yield CounterMetricFamily(
                "waitbus_hub_events_broadcast",
                "Events read from the log and fanned out",
                value=metrics.events_broadcast,
            )
            yield CounterMetricFamily(
                "waitbus_hub_frames_sent", "Frames queued to subscribers", value=metrics.frames_sent
            )
            yield CounterMetricFamily("waitbus_hub_evictions", "Subscribers evicted for lag", value=metrics.evictions)
            yield CounterMetricFamily(
                "waitbus_hub_rejected_connections",
                "Connections refused (UID, malformed)",
                value=metrics.rejected_connections,
            )
            yield CounterMetricFamily("waitbus_hub_events_pruned", "Events removed by retention", value=metrics.pruned)
            yield GaugeMetricFamily("waitbus_hub_subscribers", "Connected subscribers", value=subscribers())
            cumulative, buckets = 0, []
            for bound, count in zip((*map(str, LATENCY_BUCKETS), "+Inf"), metrics.latency_counts, strict=True):
                cumulative += count
                buckets.append((bound, cumulative))
            yield HistogramMetricFamily(
                "waitbus_hub_send_latency_seconds",
                "Doorbell to frames handed to the kernel",
                buckets=buckets,
                sum_value=metrics.latency_sum,
            )

    REGISTRY.register(_Collector())
    from ._metrics_http import start_metrics_server

    start_metrics_server(port)

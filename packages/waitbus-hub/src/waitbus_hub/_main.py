"""`waitbus-hub` / `python -m waitbus_hub` / `waitbus broadcast serve`."""

from __future__ import annotations

import argparse
import logging
import os
import sys

from waitbus_store import PathError, StoreError, bound_log_from_env, resolve_dirs
from waitbus_wire import ExitCode

from ._defaults import (
    AUTOSTART_IDLE_EXIT_SEC,
    HEARTBEAT_ENV,
    HEARTBEAT_SEC,
    IDLE_EXIT_ENV,
    LAG_LIMIT_BYTES,
    MIN_LAG_LIMIT_BYTES,
    RETENTION_INTERVAL_S,
)
from ._errors import HubError
from ._server import Hub, HubConfig

EXIT_CONFIG = ExitCode.USAGE


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="waitbus broadcast serve",
        description="Run the waitbus broadcast hub in the foreground (stop with SIGTERM or Ctrl-C). "
        "Exit codes: 0 clean stop, 2 cannot start, 3 another hub already serves this runtime dir.",
    )
    p.add_argument(
        "--heartbeat-sec",
        type=int,
        default=int(os.environ.get(HEARTBEAT_ENV) or HEARTBEAT_SEC),
        help=f"seconds between daemon_heartbeat frames (default {HEARTBEAT_SEC}, or ${HEARTBEAT_ENV})",
    )
    p.add_argument(
        "--lag-limit-bytes",
        type=int,
        default=LAG_LIMIT_BYTES,
        help=f"evict a subscriber whose unsent queue exceeds this (default {LAG_LIMIT_BYTES} bytes)",
    )
    p.add_argument(
        "--retention-seconds",
        type=float,
        default=None,
        help="delete events older than this many seconds (default: keep)",
    )
    p.add_argument("--retention-rows", type=int, default=None, help="keep at most this many events")
    p.add_argument("--retention-bytes", type=int, default=None, help="keep the log under this many bytes")
    p.add_argument(
        "--retention-interval",
        type=float,
        default=RETENTION_INTERVAL_S,
        help=f"seconds between retention passes (default {RETENTION_INTERVAL_S:g}; the first runs 10 s after start)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus metrics on 127.0.0.1:PORT/metrics (default: off)",
    )
    p.add_argument(
        "--idle-exit",
        type=float,
        default=None,
        metavar="SECONDS",
        help="exit after this many seconds with no client (0: never). Default: never, "
        f"except with --autostarted: ${IDLE_EXIT_ENV}, else {AUTOSTART_IDLE_EXIT_SEC:g}",
    )
    p.add_argument(
        "--autostarted",
        action="store_true",
        help="this hub was started in the background by a client (wait, subscribe, waitbus-mcp), "
        "so it exits when idle (see --idle-exit)",
    )
    p.add_argument("--log-level", default=os.environ.get("WAITBUS_LOG_LEVEL", "INFO"))
    return p


def main(argv: list[str] | None = None) -> int:
    bound_log_from_env()  # before logging: its handler keeps the stderr it finds
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s waitbus-hub %(levelname)s %(message)s")
    if args.heartbeat_sec < 1 or args.lag_limit_bytes < MIN_LAG_LIMIT_BYTES:
        print(
            f"waitbus-hub: --heartbeat-sec must be >= 1 and --lag-limit-bytes >= {MIN_LAG_LIMIT_BYTES}", file=sys.stderr
        )
        return EXIT_CONFIG
    if args.idle_exit is not None and args.idle_exit < 0:
        print("waitbus-hub: --idle-exit must be >= 0", file=sys.stderr)
        return EXIT_CONFIG
    if any(v is not None and v < 0 for v in (args.retention_seconds, args.retention_rows, args.retention_bytes)):
        print("waitbus-hub: retention limits must be >= 0", file=sys.stderr)
        return EXIT_CONFIG
    try:
        idle_exit = _idle_exit(args)
    except ValueError:
        print(f"waitbus-hub: ${IDLE_EXIT_ENV} must be a number of seconds", file=sys.stderr)
        return EXIT_CONFIG
    config = HubConfig(
        heartbeat_sec=args.heartbeat_sec,
        lag_limit_bytes=args.lag_limit_bytes,
        retention_seconds=args.retention_seconds,
        retention_rows=args.retention_rows,
        retention_bytes=args.retention_bytes,
        retention_interval_s=max(1.0, args.retention_interval),
        idle_exit_sec=idle_exit,
    )
    hub = Hub(resolve_dirs(), config)
    try:
        hub.open()
    except HubError as exc:
        print(f"waitbus-hub: {exc}", file=sys.stderr)
        return exc.code
    except (PathError, StoreError, OSError) as exc:
        print(f"waitbus-hub: cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.metrics_port is not None:
        from ._metrics import serve_metrics

        serve_metrics(args.metrics_port, hub.metrics, lambda: len(hub.subs))
    return hub.serve()


def _idle_exit(args: argparse.Namespace) -> float:
    """Seconds with no client before exiting; 0 never. A hub someone runs on purpose
    (systemd, launchd, a terminal) stays unless asked; one a client started goes."""
    if args.idle_exit is not None:
        return float(args.idle_exit)
    if not args.autostarted:
        return 0.0
    return max(0.0, float(os.environ.get(IDLE_EXIT_ENV) or AUTOSTART_IDLE_EXIT_SEC))

"""The command line of `waitbus source docker`: arguments, the cursor file, signals."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from . import _state
from ._runner import PROG, Runner, log


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Stream Docker Engine container events into waitbus as docker_container events "
        "(start, die with its exit code, stop, kill, oom, health_status). Runs until stopped; "
        "reconnects when the engine goes away and resumes from the last event it saw.",
        epilog="Example: waitbus source docker --host unix:///run/podman/podman.sock\n"
        "Exit codes: 0 stopped by SIGTERM, 130 SIGINT, 2 bad arguments or the engine stayed "
        "unreachable for --max-retries attempts.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--since",
        metavar="TIME",
        help="start from TIME instead of the saved cursor: unix seconds, an ISO 8601 time "
        "(UTC unless it has an offset), or a duration back from now (90s, 10m, 2h, 1d)",
    )
    parser.add_argument(
        "--host",
        metavar="URL",
        help="engine URL (unix:///path/docker.sock, tcp://host:2375); default: DOCKER_HOST, else the "
        "first socket found of Docker, rootless Docker ($XDG_RUNTIME_DIR/docker.sock), rootless podman "
        "($XDG_RUNTIME_DIR/podman/podman.sock) and rootful podman",
    )
    parser.add_argument(
        "--max-retries",
        type=int,
        default=0,
        metavar="N",
        help="exit 2 after N failed connection attempts in a row (default 0: retry forever)",
    )
    parser.add_argument(
        "--state-file",
        type=Path,
        metavar="PATH",
        help=f"where the resume cursor lives (default: <state dir>/{_state.FILENAME})",
    )
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    return parser


def parse_since(text: str, now_ns: int) -> int:
    """TIME as ns since the epoch; raises ValueError with what is accepted."""
    from decimal import Decimal, InvalidOperation

    from waitbus import parse_duration

    text = text.strip()
    try:  # Decimal, not float: "1700000000.25" must not come out as ...249999872 ns
        secs = Decimal(text)
    except InvalidOperation:
        pass
    else:
        if not secs.is_finite() or secs < 0:
            raise ValueError(f"{text!r} is not a time after 1970")
        return int(secs * 1_000_000_000)
    try:  # a bare number was a time above; with units it is a duration back from now
        return now_ns - int(parse_duration(text) * 1_000_000_000)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not unix seconds, an ISO 8601 time (2024-05-01T12:00:00Z) or a duration (10m)"
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    whole = when.replace(microsecond=0)
    return int(whole.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def main(argv: list[str]) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a usage error (2): a runner returns, never exits
        return exc.code if isinstance(exc.code, int) else 2
    if args.max_retries < 0:
        print(f"{PROG}: --max-retries must be 0 or more", file=sys.stderr)
        return 2
    now = time.time_ns()
    since_ns = None
    if args.since is not None:
        try:
            since_ns = parse_since(args.since, now)
        except ValueError as exc:
            print(f"{PROG}: --since: {exc}", file=sys.stderr)
            return 2
    state_path: Path | None = args.state_file
    if state_path is None:
        from waitbus_store import PathError, resolve_paths

        try:
            state_path = resolve_paths().state_dir / _state.FILENAME
        except PathError as exc:
            print(f"{PROG}: {exc}", file=sys.stderr)
            return 2

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(f"{PROG}: %(message)s"))
    log.addHandler(handler)
    log.setLevel(args.log_level)
    log.propagate = False
    try:
        cursor, warning = _state.load(state_path)
        if warning:
            log.warning("%s", warning)
        if since_ns is not None:
            cursor = _state.Cursor.starting_at(since_ns, cursor.health)
        # else with no saved cursor, the first connection starts it at the engine's "now"
        runner = Runner(cursor, state_path, args.host, args.max_retries)
        return _with_signals(runner.on_signal, runner.run)
    finally:
        log.removeHandler(handler)


def _with_signals(handler: Callable[[int, FrameType | None], None], body: Callable[[], int]) -> int:
    """Run body with SIGTERM/SIGINT routed to handler (only the main thread may set them)."""
    import threading

    if threading.current_thread() is not threading.main_thread():
        return body()
    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return body()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)

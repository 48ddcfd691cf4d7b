"""The hub as the CLI runs it: options from the config file unless given on the command
line (`broadcast serve`), and `serve`, every daemon in one foreground process."""

from __future__ import annotations

import logging
import os
import signal
import sys
from types import FrameType
from typing import Any

from . import _exit

# Daemons that `serve` would also run once their packages exist.
NOT_BUILT_DAEMONS = (
    ("listener", "waitbus-sources-github and waitbus-sources-alertmanager, issue 4"),
    ("etag-poll", "waitbus-sources-github, issue 4"),
    ("watchdog-check", "waitbus-sources-alertmanager, issue 4"),
)


class ConfigProblem(RuntimeError):
    pass


def _settings() -> Any:
    from ._config import load
    from ._config_cmd import describe_error

    try:
        return load()
    except (ValueError, OSError) as exc:
        raise ConfigProblem("bad configuration: " + "; ".join(describe_error(exc))) from None


def _config_options(settings: Any) -> dict[str, Any]:
    """Hub option dest -> value from the config. Heartbeat and lag limit only when set in
    the file or env (the hub's own default, and its WAITBUS_HEARTBEAT_SEC, apply
    otherwise); retention always, since its defaults keep the log bounded."""
    hub, ret = settings.hub, settings.retention
    opts: dict[str, Any] = {}
    for key in ("heartbeat_sec", "lag_limit_bytes"):
        if key in hub.model_fields_set:
            opts[key] = getattr(hub, key)
    opts["retention_seconds"] = ret.older_than_s()
    opts["retention_bytes"] = ret.max_bytes()
    opts["retention_rows"] = ret.max_rows
    return {k: v for k, v in opts.items() if v is not None}


def hub_argv(argv: list[str]) -> list[str]:
    """`argv` for waitbus_hub.main with config values in front of every option the
    command line leaves out. Raises ConfigProblem for a bad config file."""
    if any(a in ("-h", "--help") for a in argv):
        return argv
    from waitbus_hub._main import build_parser

    parser = build_parser()
    dests = ("heartbeat_sec", "lag_limit_bytes", "retention_seconds", "retention_bytes", "retention_rows")
    parser.set_defaults(**dict.fromkeys(dests))  # None = not given on the command line
    given, _rest = parser.parse_known_args(argv)
    extra: list[str] = []
    for dest, value in _config_options(_settings()).items():
        if getattr(given, dest) is None:
            extra += [f"--{dest.replace('_', '-')}", str(value)]
    return extra + argv


def broadcast_serve(argv: list[str]) -> int:
    from waitbus_hub import main as hub_main

    try:
        full = hub_argv(argv)
    except ConfigProblem as exc:
        print(f"waitbus broadcast serve: {exc}", file=sys.stderr)
        return _exit.USAGE
    return hub_main(full)


def serve(log_level: str) -> int:
    """Run the hub in this process until SIGTERM (exit 0) or SIGINT (exit 130)."""
    from waitbus_hub import Hub, HubConfig, HubError
    from waitbus_store import PathError, StoreError, resolve_paths

    try:
        settings = _settings()
        logging.basicConfig(level=log_level.upper(), format="%(asctime)s waitbus-serve %(levelname)s %(message)s")
    except (ConfigProblem, ValueError) as exc:
        print(f"waitbus serve: {exc}", file=sys.stderr)
        return _exit.USAGE
    opts = _config_options(settings)
    config = HubConfig(
        heartbeat_sec=settings.hub.heartbeat_sec,
        lag_limit_bytes=settings.hub.lag_limit_bytes,
        retention_seconds=opts.get("retention_seconds"),
        retention_rows=opts.get("retention_rows"),
        retention_bytes=opts.get("retention_bytes"),
    )
    hub = Hub(resolve_paths(), config)
    try:
        hub.open()
    except HubError as exc:
        print(f"waitbus serve: {exc}", file=sys.stderr)
        return exc.code
    except (PathError, StoreError, OSError) as exc:
        print(f"waitbus serve: cannot start the hub: {exc}", file=sys.stderr)
        return _exit.USAGE
    print(f"waitbus serve: broadcast hub up on {hub.paths.socket} (pid {os.getpid()})", file=sys.stderr)
    for name, owner in NOT_BUILT_DAEMONS:
        print(f"waitbus serve: not running {name}: not built yet ({owner})", file=sys.stderr)
    sys.stderr.flush()

    interrupted = False
    hub_handler = signal.getsignal(signal.SIGINT)

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        interrupted = True
        if callable(hub_handler):
            hub_handler(signum, frame)

    signal.signal(signal.SIGINT, on_sigint)
    code = hub.serve()
    return _exit.INTERRUPTED if interrupted else code

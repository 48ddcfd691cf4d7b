"""The hub as the CLI runs it: options from the config file unless given on the command
line (`broadcast serve`), and `serve`, every daemon in one foreground process."""

from __future__ import annotations

import logging
import os
import signal
import sys
from typing import TYPE_CHECKING, Any

from . import _exit
from ._errors import CliError

if TYPE_CHECKING:
    from ._listener import Listener

# Periodic jobs that `serve` does not schedule (a timer or cron runs them).
TIMER_JOBS = (
    ("etag-poll", "waitbus etag-poll run", "every 45 s"),
    ("silence-check", "waitbus silence-check run", "every 5 min"),
)


class ConfigProblem(CliError, RuntimeError):
    pass


def _settings() -> Any:
    from ._config import load
    from ._config_cmd import describe_error

    try:
        return load()
    except (ValueError, OSError) as exc:
        raise ConfigProblem("bad configuration: " + "; ".join(describe_error(exc))) from None


def _config_options(settings: Any, *, autostarted: bool = False) -> dict[str, Any]:
    """Hub option dest -> value from the config. Heartbeat and lag limit only when set in
    the file or env (the hub's own default, and its WAITBUS_HEARTBEAT_SEC, apply
    otherwise); retention always, since its defaults keep the log bounded; the idle
    exit only for a hub a client started (others stay unless their command line asks)."""
    hub, ret = settings.hub, settings.retention
    opts: dict[str, Any] = {}
    for key in ("heartbeat_sec", "lag_limit_bytes"):
        if key in hub.model_fields_set:
            opts[key] = getattr(hub, key)
    if autostarted:
        opts["idle_exit"] = hub.idle_exit_sec
    opts["retention_seconds"] = ret.older_than_s()
    opts["retention_bytes"] = ret.max_bytes()
    opts["retention_rows"] = ret.max_rows
    return {k: v for k, v in opts.items() if v is not None}


def hub_argv(argv: list[str]) -> list[str]:
    """`argv` for waitbus_hub.main with config values in front of every option the
    command line leaves out. Raises ConfigProblem for a bad config file."""
    if any(a in ("-h", "--help") for a in argv):
        return argv
    from waitbus_hub import build_parser

    parser = build_parser()
    dests = ("heartbeat_sec", "lag_limit_bytes", "retention_seconds", "retention_bytes", "retention_rows", "idle_exit")
    parser.set_defaults(**dict.fromkeys(dests))  # None = not given on the command line
    given, _rest = parser.parse_known_args(argv)
    extra: list[str] = []
    for dest, value in _config_options(_settings(), autostarted=given.autostarted).items():
        if getattr(given, dest) is None:
            extra += [f"--{dest.replace('_', '-')}", str(value)]
    return extra + argv


def broadcast_serve(argv: list[str]) -> int:
    """Read the config here, then become a bare `python -m waitbus_hub`: the hub lives
    for days, and this process's typer and pydantic would double its memory (40 MB
    idle instead of 20). exec keeps the pid, the environment and any socket-activation
    fds, so systemd and autostart see the same process."""
    try:
        full = hub_argv(argv)
    except ConfigProblem as exc:
        print(f"waitbus broadcast serve: {exc}", file=sys.stderr)
        return _exit.USAGE
    if "-h" in full or "--help" in full:
        from waitbus_hub import main as hub_main

        return hub_main(full)
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, "-m", "waitbus_hub", *full])  # noqa: S606 - our interpreter, our argv


def _listener_for_serve(port: int) -> tuple[Listener | None, str]:
    """The listener `serve` runs, unbound, or None and why not. A broken plugin or
    secrets file costs the listener, not the hub."""
    from ._listener import ListenerError
    from ._listener_run import prepare, wanted

    try:
        listener = prepare(port, bind=False)
    except ListenerError as exc:
        return None, str(exc)
    if not wanted(listener):
        return None, "no installed source has routes and no emit-token is staged"
    return listener, ""


def serve(log_level: str) -> int:
    """Run the hub (and the listener, when there is something for it to serve) in this
    process until SIGTERM (exit 0) or SIGINT (exit 130)."""
    from waitbus_hub import Hub, HubConfig, HubError
    from waitbus_store import PathError, StoreError, resolve_dirs

    from ._listener import ListenerError
    from ._listener_run import describe

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
    listener, why_not = _listener_for_serve(settings.listener.port)
    if listener is not None:
        try:
            listener.bind()
        except ListenerError as exc:
            # The hub is the core: a port held by something else (often a listener unit
            # already running) costs the listener, said on start, not the bus.
            listener, why_not = None, str(exc)
    hub = Hub(resolve_dirs(), config)
    try:
        hub.open()
    except (HubError, PathError, StoreError, OSError) as exc:
        if listener is not None:
            listener.stop(grace=0)
        if isinstance(exc, HubError):
            print(f"waitbus serve: {exc}", file=sys.stderr)
            return exc.code
        print(f"waitbus serve: cannot start the hub: {exc}", file=sys.stderr)
        return _exit.USAGE
    print(f"waitbus serve: broadcast hub up on {hub.dirs.socket} (pid {os.getpid()})", file=sys.stderr)
    if listener is not None:
        print(f"waitbus serve: {describe(listener)}", file=sys.stderr)
        listener.start()
    else:
        print(f"waitbus serve: not running listener: {why_not}", file=sys.stderr)
    for name, command, every in TIMER_JOBS:
        print(f"waitbus serve: not running {name}: a periodic job; schedule `{command}` {every}", file=sys.stderr)
    sys.stderr.flush()

    try:
        code = hub.serve()
    finally:
        if listener is not None:
            listener.stop()  # after the hub drains: requests in flight finish, then exit
    # The hub's own handler saw the signal, from the moment it listened: a SIGINT
    # before this function got here is still an interrupt (130), not a clean stop.
    return _exit.INTERRUPTED if hub.stop_signal == signal.SIGINT else code

"""`waitbus listener serve`: load the sources and the secrets, bind, serve until a signal."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType
from typing import TYPE_CHECKING

from . import _exit

if TYPE_CHECKING:
    from ._listener import Listener


def prepare(port: int, *, bind: bool = True) -> Listener:
    """A listener with every installed source's routes and the secrets file, bound unless
    told not to. Raises ListenerError (exit 2) for a broken plugin, a route clash, an
    unreadable secrets file, an unusable state or runtime dir or a busy port."""
    from waitbus import installed_sources
    from waitbus_store import PathError, resolve_paths

    from ._config import load
    from ._config_cmd import describe_error
    from ._listener import Listener, ListenerError
    from ._secrets import SecretsError, read_secrets

    try:
        sources = installed_sources()
    except ValueError as exc:
        raise ListenerError(str(exc)) from None
    try:
        # Every delivery is stored: refuse to start, rather than answer each one 503.
        paths = resolve_paths().ensure()
    except PathError as exc:
        raise ListenerError(f"cannot store events: {exc}") from None
    try:
        secrets = read_secrets(paths.secrets)
    except (SecretsError, PathError, OSError) as exc:
        raise ListenerError(f"cannot read the secrets file: {exc}") from None
    try:
        config = load().model_dump()
    except (ValueError, OSError) as exc:
        raise ListenerError(f"bad configuration: {'; '.join(describe_error(exc))}") from None
    listener = Listener(port, sources, secrets, config)
    if bind:
        listener.bind()
    return listener


def wanted(listener: Listener) -> bool:
    """Whether `serve` should run it: a source has routes, or POST /emit is usable."""
    from ._listener_emit import SECRET

    return bool(listener.plugin_routes()) or SECRET in listener.secrets


def describe(listener: Listener) -> str:
    from ._listener_emit import SECRET

    routes = ", ".join(listener.plugin_routes()) or "no source routes"
    emit = "POST /emit on" if SECRET in listener.secrets else f"POST /emit off (no {SECRET} staged)"
    return f"listener up on http://127.0.0.1:{listener.port} ({routes}; {emit})"


def serve_listener(port: int | None, log_level: str) -> int:
    from ._listener import ListenerError

    if port is None:
        from ._config import load
        from ._config_cmd import describe_error

        try:
            port = load().listener.port
        except (ValueError, OSError) as exc:
            print(f"waitbus listener serve: bad configuration: {'; '.join(describe_error(exc))}", file=sys.stderr)
            return _exit.USAGE
    try:
        logging.basicConfig(
            level=log_level.upper(), format="%(asctime)s waitbus-listener %(levelname)s %(message)s", stream=sys.stderr
        )
    except ValueError as exc:
        print(f"waitbus listener serve: --log-level: {exc}", file=sys.stderr)
        return _exit.USAGE
    # Handlers before the socket is bound: a stop that arrives as soon as clients can
    # connect is a clean one (exit 0), never the default action's kill.
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    try:
        listener = prepare(port)
    except ListenerError as exc:
        print(f"waitbus listener serve: {exc}", file=sys.stderr)
        return _exit.USAGE
    # Said before serving starts (the socket is bound: early clients wait in the backlog),
    # so the line is in the log before any request can be answered.
    print(f"waitbus listener serve: {describe(listener)}", file=sys.stderr, flush=True)
    listener.start()
    stop.wait()  # a signal interrupts the wait on POSIX; the handler sets the event
    logging.getLogger("waitbus.listener").info("stopping: finishing requests in flight")
    listener.stop()
    return _exit.OK

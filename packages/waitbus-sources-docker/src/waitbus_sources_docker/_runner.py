"""`waitbus source docker`: stream Docker Engine events into the bus, forever.

One connection at a time: connect (with bounded backoff while the engine is away), ask for
container events `since` the saved cursor, emit the interesting ones, save the cursor after
each emit, and on any drop go round again. The process sleeps in the socket read while
the engine is quiet; there is no polling.

SIGTERM/SIGINT raise out of whatever blocking call the main thread is in (the event read,
a backoff sleep), except inside the short emit-and-save section, which finishes first.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

from . import _state
from ._engine import find_engine
from ._health import check_timeout_s, health_at, parse_rfc3339_ns
from ._translate import EVENT_TYPE, SOURCE_NAME, ContainerEvent, event_time_ns, health_of, translate

PROG = "waitbus source docker"
BACKOFF_START = 0.5
BACKOFF_MAX = 10.0
_SHORT_CONNECTION_S = 5.0
_CALL_TIMEOUT = 30  # seconds, for ordinary API calls (never for the event stream itself)

log = logging.getLogger("waitbus_sources_docker")


class _Stop(BaseException):
    """Raised by the signal handler: a BaseException so no library `except Exception` eats it."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def _describe(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text if len(text) <= 300 else text[:297] + "..."


def backoff(failures: int) -> float:
    """0.5 s, 1 s, 2 s, ... capped at 10 s."""
    return float(min(BACKOFF_MAX, BACKOFF_START * 2 ** max(0, failures - 1)))


class Runner:
    def __init__(self, cursor: _state.Cursor, state_path: Path, host: str | None, max_retries: int) -> None:
        self.cursor = cursor
        self.state_path = state_path
        if host is None and not os.environ.get("DOCKER_HOST"):
            # No engine named: the first Docker-API socket found (rootless Docker and
            # podman included), so a supervised unit needs no per-machine setting.
            host = find_engine()
        self.host = host
        self.max_retries = max_retries
        self.engine = host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        self._depth = 0  # > 0 inside emit-and-save: a signal waits for it to finish
        self._pending: int | None = None

    # -- signals ---------------------------------------------------------------------------

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        code = 130 if signum == signal.SIGINT else 0
        if self._depth:
            self._pending = code
            return
        raise _Stop(code)

    @contextmanager
    def _critical(self) -> Iterator[None]:
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
        if self._depth == 0 and self._pending is not None:
            raise _Stop(self._pending)

    # -- the loop --------------------------------------------------------------------------

    def run(self) -> int:
        failures = 0
        quick_drops = 0
        connected_before = False
        try:
            while True:
                try:
                    client = self._connect()
                except Exception as exc:
                    failures += 1
                    if self.max_retries and failures >= self.max_retries:
                        log.error(
                            "cannot reach the Docker engine at %s after %d attempt(s): %s; giving up (--max-retries)",
                            self.engine,
                            failures,
                            _describe(exc),
                        )
                        return 2
                    delay = backoff(failures)
                    log.warning(
                        "cannot reach the Docker engine at %s (%s); retrying in %.1fs",
                        self.engine,
                        _describe(exc),
                        delay,
                    )
                    time.sleep(delay)
                    continue
                failures = 0
                if self.cursor.time_ns is None:
                    # First run: "from now" in the engine's clock, which may not be ours (tcp://).
                    self.cursor = _state.Cursor.starting_at(_engine_now(client), self.cursor.health)
                    self._save()
                log.info(
                    "%s the Docker engine at %s (API %s); container events since %s",
                    "reconnected to" if connected_before else "connected to",
                    self.engine,
                    getattr(client.api, "api_version", "?"),
                    self.cursor.since_seconds(),
                )
                connected_before = True
                began = time.monotonic()
                try:
                    self._stream(client)
                    reason = "the engine closed the event stream"
                except Exception as exc:
                    reason = _describe(exc)
                finally:
                    _close(client)
                self._save()
                # An engine that keeps dropping the stream at once must not make this a hot loop.
                quick_drops = quick_drops + 1 if time.monotonic() - began < _SHORT_CONNECTION_S else 0
                delay = backoff(quick_drops + 1)
                log.warning("lost the Docker engine at %s (%s); reconnecting in %.1fs", self.engine, reason, delay)
                time.sleep(delay)
        except _Stop as stop:
            self._save()
            log.info("stopped (%s)", "SIGINT" if stop.code == 130 else "SIGTERM")
            return stop.code

    def _connect(self) -> Any:
        # docker ships no type information, so the client is Any here on purpose.
        docker: Any = importlib.import_module("docker")
        if self.host:
            client = docker.DockerClient(base_url=self.host, timeout=_CALL_TIMEOUT)  # asks the API version: connects
        else:
            client = docker.from_env(timeout=_CALL_TIMEOUT)  # DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH
        try:
            client.ping()
        except BaseException:
            _close(client)
            raise
        return client

    def _stream(self, client: Any) -> None:
        floor = self.cursor.floor_ns()  # fixed per connection: what this replay may skip
        stream = client.events(decode=True, filters={"type": "container"}, since=self.cursor.since_seconds())
        try:
            for raw in stream:
                if isinstance(raw, dict):
                    self._handle(client, raw, floor)
        finally:
            _close(stream)

    def _handle(self, client: Any, raw: dict[str, Any], floor: int) -> None:
        t = event_time_ns(raw)
        if t is None or t < floor:
            return
        event = translate(raw)
        if event is None:
            self.cursor.advance(t)  # kept in memory; saved with the next emit or on exit
            return
        if self.cursor.seen(event.delivery_id):
            return
        if event.action == "health_status" and health_of(raw) is None:
            # podman 4 says only that a check ran; its result is in the container's state.
            event = translate(raw, health=self._inspect_health(client, event.container_id, t)) or event
        if event.action == "health_status" and self.cursor.health.get(event.container_id, "") == event.fields["health"]:
            # podman reports every check run; only a change in health is an event.
            self.cursor.record(event.delivery_id, t)
            return
        self._emit(event)

    def _inspect_health(self, client: Any, container_id: str, time_ns: int) -> str | None:
        """Find the check behind a bare podman health_status event in the container's
        health log, waiting (bounded by the check's own timeout) while it still runs."""
        deadline: float | None = None
        delay = 0.05
        while True:
            try:
                data = client.api.inspect_container(container_id)
            except Exception:
                return None  # gone already, or the engine went away (the stream will notice)
            if not isinstance(data, dict):
                return None
            status, final = health_at(data, time_ns)
            if deadline is None:
                deadline = time.monotonic() + min(60.0, check_timeout_s(data) + 5.0)
            if final or time.monotonic() >= deadline:
                return status
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def _emit(self, event: ContainerEvent) -> None:
        from waitbus import EventError, emit
        from waitbus_store import StoreError

        failures = 0
        while True:
            with self._critical():
                try:
                    result = emit(
                        SOURCE_NAME,
                        EVENT_TYPE,
                        fields=event.fields,
                        delivery_id=event.delivery_id,
                        summary=event.summary,
                    )
                except EventError as exc:
                    log.error("dropping %s: %s", event.summary, exc)
                    self._done(event)
                    return
                except (StoreError, OSError) as exc:
                    error: BaseException = exc
                else:
                    self._done(event)
                    log.info("%s: %s", "emitted" if result.inserted else "already stored", event.summary)
                    return
            failures += 1
            delay = backoff(failures)
            log.warning("cannot write the event log (%s); retrying in %.1fs", _describe(error), delay)
            time.sleep(delay)

    def _done(self, event: ContainerEvent) -> None:
        self.cursor.record(event.delivery_id, event.time_ns)
        if event.action == "health_status":
            self.cursor.set_health(event.container_id, event.fields["health"])
        elif event.action == "die":
            self.cursor.health.pop(event.container_id, None)  # a restart begins a new health history
        self._save()

    def _save(self) -> None:
        try:
            _state.save(self.state_path, self.cursor)
        except OSError as exc:
            # Not fatal: the log dedups by delivery id, so a stale cursor only means re-reading.
            log.warning("cannot save the cursor %s: %s", self.state_path, exc)


def _engine_now(client: Any) -> int:
    try:
        now = parse_rfc3339_ns(client.info().get("SystemTime"))
    except Exception as exc:
        log.debug("info: %s", _describe(exc))
        now = None
    return now if now is not None else time.time_ns()


def _close(obj: Any) -> None:
    try:
        obj.close()
    except Exception as exc:  # closing a dead connection may fail; nothing left to do with it
        log.debug("close: %s", _describe(exc))

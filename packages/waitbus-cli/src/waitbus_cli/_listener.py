"""The one loopback listener: HTTP/1.1 on 127.0.0.1 serving /healthz, /metrics, POST /emit
and the routes of every installed source (docs/listener.md).

The stdlib server, one thread per connection. Framing rules are enforced before a
handler sees anything: a POST needs a Content-Length of at most 10 MiB (chunked bodies
are refused, so a handler always gets the exact bytes a signature was made over), and
a body the listener did not read closes the connection instead of being skipped.
What a sender may cost is bounded in _listener_limits: a route's auth header is required
before the body, bodies read before auth share one budget, each request has a deadline.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ._errors import CliError
from ._listener_limits import (
    EVICT_WAIT_S,
    REQUEST_TIMEOUT_S,
    RETRY_AFTER_S,
    BodyBudget,
    Deadlines,
    HeaderBudget,
    IdleConnections,
)

if TYPE_CHECKING:
    from waitbus import HttpRequest, HttpResponse, SourceSpec

    from ._listener_metrics import ListenerMetrics

MAX_BODY = 10 * 1024 * 1024
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
log = logging.getLogger("waitbus.listener")


class ListenerError(CliError, RuntimeError):
    """The listener cannot start (a route clash, a busy port); exit 2."""


@dataclass(frozen=True)
class Mounted:
    """One endpoint. `source` is None for the listener's own routes; `authorize` runs
    before the body is read, so an unauthenticated upload is never even received.
    Without it, the body is read before the handler can authenticate it: it must carry
    one of `auth_headers` (if any) and it is read only within the body budget."""

    method: str
    path: str
    handler: Callable[[HttpRequest], HttpResponse]
    source: str | None = None
    authorize: Callable[[Mapping[str, str]], HttpResponse | None] | None = None
    auth_headers: tuple[str, ...] = ()


def json_response(status: int, obj: object) -> HttpResponse:
    from waitbus import HttpResponse

    return HttpResponse(status, json.dumps(obj).encode() + b"\n")


def error(status: int, message: str) -> HttpResponse:
    return json_response(status, {"error": message})


class Listener:
    """The routing table, the metrics and the server. bind() then start(), stop() to end."""

    def __init__(
        self,
        port: int,
        sources: Mapping[str, SourceSpec],
        secrets: Mapping[str, str],
        config: Mapping[str, Any] | None = None,
    ) -> None:
        from waitbus import all_routes

        from ._listener_emit import authorize_emit, handle_emit
        from ._listener_metrics import ListenerMetrics

        self.port = port
        self.sources = dict(sources)
        self.secrets = dict(secrets)
        self.config = dict(config or {})
        self.metrics: ListenerMetrics = ListenerMetrics()
        # Seconds a sender has for one whole request (config listener.request_timeout).
        self.request_timeout = float(self.config.get("listener", {}).get("request_timeout", REQUEST_TIMEOUT_S))
        self.budget = BodyBudget()
        self.deadlines: Deadlines | None = None
        own = [
            Mounted("GET", "/healthz", self._healthz),
            Mounted("GET", "/metrics", self._metrics),
            Mounted("POST", "/emit", handle_emit, authorize=lambda h: authorize_emit(h, self.secrets)),
        ]
        table = {(m.method, m.path): m for m in own}
        try:
            plugged = all_routes(list(self.sources.values()))
        except ValueError as exc:
            raise ListenerError(f"route clash: {exc}") from None
        for (method, path), (spec, route) in plugged.items():
            if (method, path) in table:
                raise ListenerError(f"route clash: {method} {path} is the listener's own; source {spec.name} claims it")
            headers = tuple(h.lower() for h in route.auth_headers)
            table[(method, path)] = Mounted(method, path, route.handler, source=spec.name, auth_headers=headers)
        # path -> method -> endpoint: a known path with another method is a 405, not a 404
        self.paths: dict[str, dict[str, Mounted]] = {}
        for m in table.values():
            self.paths.setdefault(m.path, {})[m.method] = m
        self.server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._busy = 0
        self._idle = threading.Condition()
        self.stopping = False

    def route_names(self) -> list[str]:
        return sorted(f"{method} {path}" for path, methods in self.paths.items() for method in methods)

    def plugin_routes(self) -> list[str]:
        return sorted(f"{m} {p} ({e.source})" for p, ms in self.paths.items() for m, e in ms.items() if e.source)

    # -- lifecycle ----------------------------------------------------------------

    def bind(self) -> int:
        """Bind 127.0.0.1:port (0 picks a free one); the bound port. ListenerError if busy."""
        try:
            self.server = _Server(("127.0.0.1", self.port), _Handler)
        except OSError as exc:
            import errno

            if exc.errno == errno.EADDRINUSE:
                raise ListenerError(
                    f"127.0.0.1:{self.port} is already in use (another listener? `waitbus doctor` checks it); "
                    "pick another with --port or listener.port in the config"
                ) from None
            raise ListenerError(f"cannot bind 127.0.0.1:{self.port}: {exc}") from None
        self.server.listener = self
        self.deadlines = Deadlines()
        self.port = self.server.server_address[1]
        return self.port

    def start(self) -> None:
        assert self.server is not None, "bind() first"
        self._thread = threading.Thread(target=self.server.serve_forever, name="listener", daemon=True)
        self._thread.start()

    def stop(self, grace: float = 30.0) -> bool:
        """Stop accepting, then wait up to `grace` s for requests being handled to finish.
        Idle keep-alive connections are not waited for. True if everything finished."""
        self.stopping = True
        if self.server is not None:
            if self._thread is not None:
                self.server.shutdown()
                self._thread.join()
            self.server.server_close()
        if self.deadlines is not None:
            self.deadlines.stop()
        deadline = time.monotonic() + grace
        with self._idle:
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.warning("stopping with %d request(s) still being handled", self._busy)
                    return False
                self._idle.wait(left)
        return True

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._idle:
            self._busy += 1
        try:
            yield
        finally:
            with self._idle:
                self._busy -= 1
                self._idle.notify_all()

    # -- the listener's own routes -------------------------------------------------

    def _healthz(self, req: HttpRequest) -> HttpResponse:
        return json_response(200, {"ok": True, "sources": sorted(self.sources), "routes": self.route_names()})

    def _metrics(self, req: HttpRequest) -> HttpResponse:
        from waitbus import HttpResponse

        body, content_type = self.metrics.exposition()
        return HttpResponse(200, body, content_type)


MAX_CONNECTIONS = 256  # served at once; loopback TCP is open to every local user


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # idle keep-alive connections must not hold the process open
    request_queue_size = 128  # the accept backlog: a burst of senders waits, not refused (default 5)
    listener: Listener

    # A thread per connection: without a bound, idle connections of another local user
    # would each cost a thread and a descriptor until the listener ran out of both.
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        self.idle = IdleConnections()

    def process_request(self, request: Any, client_address: Any) -> None:
        # All slots taken: the connection idle the longest gives way, so connections
        # held open with nothing to say cannot keep a webhook out.
        if not self._slots.acquire(blocking=False) and not (
            self.idle.evict_oldest() and self._slots.acquire(timeout=EVICT_WAIT_S)
        ):
            self.shutdown_request(request)  # closed at once, unlogged: a flood must not fill the log
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away mid-response is routine; one line, no traceback.
        import sys

        exc = sys.exc_info()[1]
        log.warning("connection from %s:%s ended: %s: %s", *client_address[:2], type(exc).__name__, exc)


def _loggable(path: str) -> str:
    """The path without its query (which may carry a token), printable and bounded."""
    bare = urlsplit(path).path if path.startswith(("/", "http")) else path
    clean = "".join(c if c.isprintable() and c != " " else "?" for c in bare)
    return clean if len(clean) <= 200 else clean[:199] + "\u2026"


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "waitbus-listener"
    sys_version = ""
    timeout = 30  # seconds a client may stall in one read or idle between requests

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass  # _dispatch logs one line per request itself, with the time taken

    def log_message(self, format: str, *args: Any) -> None:
        # Only the base class's own errors (a malformed request line, a timeout) get here.
        log.warning("%s: %s", self.client_address[0], format % args)

    def handle_one_request(self) -> None:
        """The base class's, inside the whole-request deadline, which starts with the
        request's first byte (idle time between keep-alive requests does not count)."""
        idle = self.server.idle
        idle.waiting(self.connection)
        try:
            first = self.rfile.peek(1)  # type: ignore[attr-defined]  # a BufferedReader over the socket
        except OSError:  # idle past `timeout`, or the client reset
            first = b""
        finally:
            idle.active(self.connection)
        if not first:
            self.close_connection = True
            return
        deadlines = self.server.listener.deadlines
        assert deadlines is not None
        deadlines.arm(self.connection, self.server.listener.request_timeout)
        try:
            super().handle_one_request()
        finally:
            deadlines.disarm(self.connection)

    def parse_request(self) -> bool:
        # The headers are read within one budget, not the stdlib's 100 lines of 64 KiB each.
        rfile = self.rfile
        self.rfile = HeaderBudget(rfile)  # type: ignore[assignment]  # parse_headers needs readline only
        try:
            return super().parse_request()
        finally:
            self.rfile = rfile

    def finish(self) -> None:
        deadlines = self.server.listener.deadlines
        if deadlines is not None:
            deadlines.forget(self.connection)
        super().finish()

    def _too_slow(self) -> HttpResponse:
        self.close_connection = True
        limit = self.server.listener.request_timeout
        return error(408, f"the request was not complete within {limit:g} s")

    def _dispatch(self) -> None:
        listener = self.server.listener
        started = time.monotonic()
        self._sent = 0
        self._labels: tuple[str, str | None] = ("unmatched", None)
        self._counted = False
        with listener.in_flight():
            try:
                route, source, status = self._handle(listener)
            finally:
                ms = (time.monotonic() - started) * 1000
                log.info("%s %s %s %.1fms", self.command, _loggable(self.path), self._sent or "-", ms)
        if not self._counted:  # no answer went out (the client left mid-body): count it now
            listener.metrics.request(route, status, source)

    def _handle(self, listener: Listener) -> tuple[str, str | None, int]:
        """Answer one request; (route label, source label, status) for the metrics."""
        path = urlsplit(self.path).path
        assert listener.deadlines is not None
        if listener.deadlines.expired(self.connection):  # the headers were cut off
            return "unmatched", None, self._send(self._too_slow())
        methods = listener.paths.get(path)
        asked_close = self.close_connection  # what the client's Connection header asked for
        has_body = "transfer-encoding" in self.headers or self.headers.get("content-length", "0").strip() != "0"
        if has_body:
            self.close_connection = True  # until the body is read, the stream is out of step
        if methods is None:
            return "unmatched", None, self._send(error(404, f"no route {path}"))
        self._labels = (path, None)
        lookup = "GET" if self.command == "HEAD" else self.command
        mounted = methods.get(lookup)
        if mounted is None:
            allow = ", ".join(sorted(methods))
            return path, None, self._send(error(405, f"{path} takes {allow}"), [("Allow", allow)])
        source = mounted.source or ("emit" if path == "/emit" else None)
        self._labels = (path, source)
        framing = self._check_framing()
        if framing is not None:
            return path, source, self._send(framing)
        if mounted.authorize is not None:
            denied = mounted.authorize(_headers(self))
            if denied is not None:
                return path, source, self._send(denied)
        elif mounted.auth_headers and not any(h in self.headers for h in mounted.auth_headers):
            wanted = " or ".join(mounted.auth_headers)
            return path, source, self._send(error(401, f"missing credentials: {lookup} {path} needs {wanted}"))
        length = int(self.headers.get("content-length", "0"))
        # A body nobody has authenticated yet is read only within the shared budget.
        reserved = length if mounted.authorize is None else 0
        if reserved and not listener.budget.take(reserved):
            busy = error(503, f"too many request bodies in flight; retry after {RETRY_AFTER_S} s")
            return path, source, self._send(busy, [("Retry-After", str(RETRY_AFTER_S))])
        try:
            return path, source, self._read_and_call(listener, mounted, path, length, asked_close)
        finally:
            listener.budget.give(reserved)

    def _read_and_call(self, listener: Listener, mounted: Mounted, path: str, length: int, asked_close: bool) -> int:
        try:
            body = self.rfile.read(length) if length else b""
        except OSError:  # stalled past `timeout` in one read, or reset
            body = b""
        assert listener.deadlines is not None
        listener.deadlines.disarm(self.connection)  # the handler's own time is not the sender's
        if listener.deadlines.expired(self.connection):
            return self._send(self._too_slow())
        if len(body) != length:
            self.close_connection = True
            return 400  # the client left mid-body: nobody to answer
        self.close_connection = asked_close  # the body is consumed: back in step
        return self._send(self._call(listener, mounted, path, body))

    def _check_framing(self) -> HttpResponse | None:
        if "transfer-encoding" in self.headers:
            return error(411, "chunked or other transfer-encoded bodies are refused; send Content-Length")
        if len(self.headers.get_all("content-length") or ()) > 1:
            # Two lengths are a request-smuggling shape: refuse rather than pick one.
            return error(400, "more than one Content-Length")
        raw = self.headers.get("content-length")
        if raw is None:
            return error(411, "Content-Length is required") if self.command in BODY_METHODS else None
        try:
            length = int(raw.strip())
        except ValueError:
            length = -1
        if length < 0 or not raw.strip().isdigit():
            return error(400, f"bad Content-Length {raw[:40]!r}")
        if length > MAX_BODY:
            return error(413, f"body of {length} bytes is over the {MAX_BODY} byte limit")
        return None

    def _call(self, listener: Listener, mounted: Mounted, path: str, body: bytes) -> HttpResponse:
        from waitbus import HttpRequest, HttpResponse

        req = HttpRequest(self.command, path, _headers(self), body, listener.secrets, listener.config)
        who = f"source {mounted.source}" if mounted.source else "the listener"
        try:
            resp = mounted.handler(req)
        except Exception:
            log.exception("%s %s: the handler of %s raised", mounted.method, path, who)
            return error(500, f"internal error in the handler of {who}; see the listener's log")
        if (
            not isinstance(resp, HttpResponse)
            or not isinstance(resp.status, int)
            or not 200 <= resp.status <= 599
            or not isinstance(resp.body, bytes)
            or not isinstance(resp.content_type, str)
            or any(c in resp.content_type for c in "\r\n")
        ):
            log.error("%s %s: the handler of %s returned %.200r, not an HttpResponse", mounted.method, path, who, resp)
            return error(500, f"internal error in the handler of {who}; see the listener's log")
        return resp

    def _send(self, resp: HttpResponse, headers: list[tuple[str, str]] | None = None) -> int:
        # Counted before the answer leaves: a client that reads /metrics right after
        # its answer must find its request there.
        route, source = self._labels
        self.server.listener.metrics.request(route, resp.status, source)
        self._counted = True
        if self.server.listener.stopping:
            self.close_connection = True
        self.send_response(resp.status)
        self.send_header("Content-Type", resp.content_type)
        self.send_header("Content-Length", str(len(resp.body)))
        for name, value in headers or []:
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(resp.body)
        self.wfile.flush()
        self._sent = resp.status
        return resp.status


def _headers(handler: BaseHTTPRequestHandler) -> dict[str, str]:
    """Lowercase keys; a repeated header is joined with ', ' (RFC 9110 5.3)."""
    out: dict[str, str] = {}
    for name, value in handler.headers.items():
        key = name.lower()
        out[key] = f"{out[key]}, {value}" if key in out else value
    return out

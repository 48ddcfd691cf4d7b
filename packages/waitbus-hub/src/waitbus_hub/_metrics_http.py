"""The hub's /metrics server on 127.0.0.1:port.

Loopback TCP is open to every local user, so this server costs the hub one thread and
at most one connection at a time (prometheus_client's start_http_server spawns a thread
per connection and never times one out: another user holding 400 idle connections put
400 threads and fds into the hub, enough to starve its subscribers of descriptors), and
each request must be complete within REQUEST_DEADLINE_S of its connection.
"""

from __future__ import annotations

import errno
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

REQUEST_DEADLINE_S = 5.0  # a scrape is one short GET; a sender that dribbles is cut off
_ACCEPT_PAUSE_S = 0.25  # out of fds, accept again after this (as the hub's own socket)


class _MetricsServer(HTTPServer):
    """One connection at a time: the rest wait in the kernel's backlog, not in our fds."""

    request_queue_size = 16

    def get_request(self) -> tuple[socket.socket, Any]:
        try:
            return super().get_request()
        except OSError as exc:
            if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                time.sleep(_ACCEPT_PAUSE_S)  # the socket stays readable: do not spin on it
            raise


class _MetricsHandler(BaseHTTPRequestHandler):
    timeout = REQUEST_DEADLINE_S  # per read; the timer below bounds the whole request

    def setup(self) -> None:
        super().setup()
        self._deadline = threading.Timer(REQUEST_DEADLINE_S, self._cut_off)
        self._deadline.daemon = True
        self._deadline.start()

    def _cut_off(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)  # wakes the blocked read
        except OSError:
            pass

    def finish(self) -> None:
        self._deadline.cancel()
        super().finish()

    def do_GET(self) -> None:
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

        if self.path.partition("?")[0] not in ("/", "/metrics"):
            self.send_error(404)
            return
        body = generate_latest(REGISTRY)
        self.send_response(200)
        self.send_header("Content-Type", CONTENT_TYPE_LATEST)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every few seconds is not news; hub.log stays for the hub


def start_metrics_server(port: int) -> HTTPServer:
    """Serve REGISTRY on 127.0.0.1:port from one daemon thread."""
    server = _MetricsServer(("127.0.0.1", port), _MetricsHandler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server

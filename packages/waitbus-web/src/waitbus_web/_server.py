"""The loopback HTTP server: a token (in the first URL, then an HttpOnly cookie) on
every request, the page's static files, and one event stream per open page."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from ._events import EventStream
from ._http import MAX_HEAD_BYTES, BadRequest, Request, read_request, simple_response
from ._hubview import StatsCache

log = logging.getLogger("waitbus_web")

HOST = "127.0.0.1"  # loopback only, never configurable
DEFAULT_MAX_ROWS = 1000
DEFAULT_LAG_LIMIT_BYTES = 1024 * 1024
_STATIC = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}


@dataclass
class WebConfig:
    port: int = 0  # 0: a free port
    max_rows: int = DEFAULT_MAX_ROWS  # rows the page keeps
    lag_limit_bytes: int = DEFAULT_LAG_LIMIT_BYTES  # unsent bytes before a page is dropped
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))


class WebServer:
    def __init__(self, config: WebConfig | None = None) -> None:
        self.config = config or WebConfig()
        self.stats = StatsCache()
        self._server: asyncio.Server | None = None
        self._assets = {name: _asset(name) for name in (*_STATIC, "index.html")}
        self._reader: Any = None
        self._streams: set[asyncio.Task[Any]] = set()
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/?token={self.config.token}"

    @property
    def cookie_name(self) -> str:
        # Cookies ignore ports: one name per server, so two servers never clobber each other.
        return f"waitbus_web_{self.port}"

    async def start(self) -> None:
        """Check the log and listen. StoreError / OSError say why not."""
        self.head()  # a foreign or damaged log stops us here, not at the first page
        self._server = await asyncio.start_server(
            self._on_connection, HOST, self.config.port, limit=MAX_HEAD_BYTES, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._streams):
            task.cancel()
        await asyncio.gather(*self._streams, return_exceptions=True)
        if self._reader is not None:
            self._reader.close()

    def head(self) -> str | None:
        """The newest event id, or None while there is no log (read-only: never creates one)."""
        if self._reader is None:
            from waitbus_store import open_reader

            self._reader = open_reader()
            if self._reader is None:
                return None
        found = self._reader.head()
        return str(found[1]) if found else None

    # -- one connection ----------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._streams.add(task)
        try:
            await self._answer(reader, writer)
        except (ConnectionError, asyncio.CancelledError):
            pass
        except Exception:
            log.exception("request failed")
        finally:
            self._streams.discard(task)
            if not writer.is_closing():
                writer.close()

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            req = await read_request(reader)
        except BadRequest as exc:
            if exc.status:
                writer.write(simple_response(exc.status, f"{exc}\n".encode()))
            return
        by_query, ok = self._authorized(req)
        if not ok:
            writer.write(simple_response(401, b"401: open the URL `waitbus web` printed (it carries the token)\n"))
            return
        if req.headers.get("host") not in (f"{HOST}:{self.port}", f"localhost:{self.port}"):
            writer.write(simple_response(421, b"421: this server answers only to its loopback address\n"))
            return
        if req.method != "GET":
            writer.write(simple_response(405, b"405: GET only\n", extra=[("Allow", "GET")]))
            return
        if by_query and req.path == "/":  # swap the token in the URL for a cookie, out of the address bar
            cookie = f"{self.cookie_name}={self.config.token}; HttpOnly; SameSite=Strict; Path=/"
            writer.write(simple_response(303, b"", extra=[("Set-Cookie", cookie), ("Location", req.path)]))
            return
        if req.path == "/api/events":
            stream = EventStream(
                req, reader, writer, head=self.head, stats=self.stats, lag_limit_bytes=self.config.lag_limit_bytes
            )
            await stream.run()
            return
        writer.write(self._static(req.path))
        await writer.drain()

    def _authorized(self, req: Request) -> tuple[bool, bool]:
        """(the token came in the query, the request may proceed)."""
        expected = self.config.token.encode()
        given = req.query.get("token")
        if given is not None and hmac.compare_digest(given.encode(), expected):
            return True, True
        cookie = req.cookie(self.cookie_name)
        return False, cookie is not None and hmac.compare_digest(cookie.encode(), expected)

    def _static(self, path: str) -> bytes:
        if path == "/":
            page = self._assets["index.html"].replace(b"{{MAX_ROWS}}", str(self.config.max_rows).encode())
            return simple_response(200, page, "text/html; charset=utf-8")
        name = path.removeprefix("/static/")
        if name in _STATIC and path != name:
            return simple_response(200, self._assets[name], _STATIC[name])
        return simple_response(404, b"404: no such page\n")


def _asset(name: str) -> bytes:
    return resources.files("waitbus_web").joinpath("static", name).read_bytes()

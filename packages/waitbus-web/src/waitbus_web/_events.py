"""One page's live stream: Server-Sent Events fed by an SDK subscription.

Every event goes out with `id: <event_id>`, so the browser's own reconnect sends
Last-Event-ID and the subscription resumes from that cursor (the SDK's `since`): no
gap, no duplicate. A page that reads too slowly is treated like a slow subscriber at
the hub: once more than `lag_limit_bytes` wait for it, it is told it fell behind and
dropped, and it comes back from its cursor.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import Callable
from typing import Any

from ._filter import check_filter
from ._http import Request, response_head
from ._hubview import REFRESH_S, StatsCache

ZERO_ULID = "0" * 26
RETRY_MS = 1000  # the browser's reconnect delay after a drop
CLOSE_TIMEOUT_S = 10.0  # a page that stops reading entirely is cut off after this
# The kernel's share of a page's backlog: small, so a stalled page shows up in our own
# buffer (bounded by lag_limit_bytes) instead of megabytes of autotuned socket buffer.
SNDBUF_BYTES = 256 * 1024


def sse(data: Any, *, event: str | None = None, event_id: str | None = None) -> bytes:
    lines = []
    if event is not None:
        lines.append(f"event: {event}")
    if event_id is not None:
        lines.append(f"id: {event_id}")
    # json.dumps never emits a raw newline, so the payload is exactly one data line.
    lines.append("data: " + json.dumps(data, separators=(",", ":"), ensure_ascii=False))
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def event_data(frame: Any, replay: bool) -> dict[str, Any]:
    """The one JSON shape of an event (waitbus_wire.event_dict), plus whether it came
    from the log at or before the head when this stream opened."""
    from waitbus_wire import event_dict

    data = event_dict(frame)
    data["replay"] = replay
    return data


class EventStream:
    def __init__(
        self,
        req: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        head: Callable[[], str | None],
        stats: StatsCache,
        lag_limit_bytes: int,
    ) -> None:
        self.req, self.reader, self.writer = req, reader, writer
        self.head = head
        self.stats = stats
        self.lag_limit_bytes = lag_limit_bytes

    async def run(self) -> None:
        from waitbus import PredicateError
        from waitbus_wire import is_ulid

        sock = self.writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SNDBUF_BYTES)
        self.writer.write(
            response_head(
                200,
                [
                    ("Content-Type", "text/event-stream; charset=utf-8"),
                    ("Connection", "close"),
                    ("X-Accel-Buffering", "no"),
                ],
            )
            + f"retry: {RETRY_MS}\n\n".encode()
        )
        try:
            specs = check_filter(self.req.query.get("match", ""))
        except PredicateError as exc:
            await self._last(sse({"what": "filter", "error": str(exc)}, event="refused"))
            return
        last_id = self.req.headers.get("last-event-id", "")
        since = self.req.query.get("since", "")
        if since and not is_ulid(since):
            error = f"since must be an event id (ULID); got {since!r}"
            await self._last(sse({"what": "since", "error": error}, event="refused"))
            return
        head = self.head() or ZERO_ULID
        # The browser's Last-Event-ID (a reconnect) wins over the `since` it was opened with.
        cursor = last_id if is_ulid(last_id) else since or head
        hello = {"cursor": cursor, "replay_upto": head, "specs": specs, "resumed": is_ulid(last_id)}
        self.writer.write(sse(hello, event="hello", event_id=cursor))

        tasks = {
            asyncio.create_task(self._pump(specs, cursor, head)),
            asyncio.create_task(self._stats()),
            asyncio.create_task(self._gone()),
        }
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and isinstance(task.exception(), Exception):
                raise task.exception()  # type: ignore[misc]

    async def _pump(self, specs: list[str], cursor: str, replay_upto: str) -> None:
        from waitbus import HubUnavailable, asubscribe

        transport = self.writer.transport
        try:
            async for frame in asubscribe(specs, since=cursor):
                self.writer.write(sse(event_data(frame, frame.event_id <= replay_upto), event_id=frame.event_id))
                if transport.get_write_buffer_size() > self.lag_limit_bytes:
                    await self._last(sse({"queued_bytes": transport.get_write_buffer_size()}, event="behind"))
                    return
        except HubUnavailable as exc:
            await self._last(sse({"error": str(exc)}, event="problem"))

    async def _stats(self) -> None:
        while True:
            view = await self.stats.get()
            if not self.writer.is_closing():  # closing: a final message is on its way
                self.writer.write(sse(view, event="stats"))
            await asyncio.sleep(REFRESH_S)

    async def _gone(self) -> None:
        """Returns when the page closes the connection (it never sends anything)."""
        while await self.reader.read(4096):
            pass

    async def _last(self, message: bytes) -> None:
        """Send a final message after what is queued, then close; a page that takes
        nothing more for CLOSE_TIMEOUT_S is cut off (its memory is freed either way)."""
        self.writer.write(message)
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), CLOSE_TIMEOUT_S)
        except (TimeoutError, ConnectionError):
            self.writer.transport.abort()

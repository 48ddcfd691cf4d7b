"""The reconnecting subscriber behind subscribe(), asubscribe() and wait_for().

It keeps a cursor (the last event_id it saw, or the head at its first subscribe),
and after any disconnect -- hub restart, kill -9, lag eviction -- it reconnects with
`since=cursor`. The hub resolves the cursor by commit order, so the stream resumes
with no gap and no duplicate.
"""

from __future__ import annotations

import select
import time
from collections import deque

import waitbus_wire
from waitbus_wire import WHERE_TOO_EXPENSIVE, FrameDecoder, FrameError, encode_frame, encode_subscribe, ulid_from_parts

from ._autostart import connect
from ._errors import HubRejected, HubUnavailable
from ._match import Matcher

TYPE_CHECKING = False  # not `from typing import ...`: see `waitbus wait`'s start-up
if TYPE_CHECKING:
    import _socket
    from collections.abc import AsyncIterator, Callable, Iterator
    from typing import Any, NoReturn

    from waitbus_wire import ClientCodec, EventFrame

ZERO_ULID = ulid_from_parts(0, 0)
RECONNECT_TIMEOUT_S = 30.0
ACK_TIMEOUT_S = 10.0
# A wait with at least this long left may spend a moment of it on `on_idle` work.
IDLE_MIN_S = 0.05


def _codec(views: bool) -> ClientCodec:
    """msgspec Structs (EventFrame), or plain views read with the stdlib json module,
    for a process that waits once and must not pay msgspec's import (`wait_event`)."""
    return waitbus_wire.VIEW_CODEC if views else waitbus_wire.STRUCT_CODEC


class _Lost(Exception):
    """The connection ended; reconnect from the cursor."""


class _StreamState:
    """What survives reconnects, and how each hub message is handled (no I/O)."""

    def __init__(self, matcher: Matcher, since: str | None, autostart: bool | None, codec: ClientCodec) -> None:
        self.matcher = matcher
        self.codec = codec
        self.cursor = since
        self.autostart = autostart
        self.heartbeat_sec = 60.0
        self.acked = False
        self.hub_filters = True  # False once a hub refused our `where`: we filter every event

    def subscribe_frame(self) -> bytes:
        where = self.matcher.hub_where() if self.hub_filters else None
        return encode_frame(encode_subscribe(since=self.cursor, where=where))

    def rejected(self, msg: Any, lost: str) -> NoReturn:
        if msg.reason == "version":
            raise HubRejected(f"hub rejected protocol 1: {msg.remediation}")
        if msg.reason == WHERE_TOO_EXPENSIVE:
            self.hub_filters = False  # a hub stricter than our SDK: ask again without it
        raise _Lost(lost)

    def on_ack(self, ack: Any) -> None:
        self.heartbeat_sec = float(ack.heartbeat_sec)
        if self.cursor is None:
            # Nothing seen yet: from now on "after the head when we first asked".
            self.cursor = ack.caught_up_at or ZERO_ULID

    def on_message(self, msg: object) -> Any:
        """The event to hand to the caller (the codec's event type), or None. Raises
        _Lost / HubRejected."""
        codec = self.codec
        if isinstance(msg, codec.event):
            self.cursor = msg.event_id
            return msg if self.matcher.offer(msg) else None
        if isinstance(msg, codec.truncated):
            self.cursor = msg.event_id
            full = _load_event(msg.event_id, codec)
            return full if full is not None and self.matcher.offer(full) else None
        if isinstance(msg, codec.rejected):
            self.rejected(msg, msg.reason)
        if isinstance(msg, codec.ack):
            self.on_ack(msg)
        return None  # heartbeats and unknown kinds

    @property
    def silence_limit(self) -> float:
        return self.heartbeat_sec * 2.5


def _load_event(event_id: str, codec: ClientCodec) -> Any:
    """Read an event that was too big for one frame straight from the log, as the
    codec's event type."""
    from ._emit import fetch_stored

    found = fetch_stored(event_id)
    if found is None:
        return None
    frame = found[0].to_frame()
    if isinstance(frame, codec.event):
        return frame
    return codec.event(**{name: getattr(frame, name) for name in frame.__struct_fields__})


class Subscription:
    """A blocking stream of matching events. Iterate it, or call `get(timeout)`."""

    def __init__(
        self,
        matcher: Matcher,
        *,
        since: str | None = None,
        autostart: bool | None = None,
        views: bool = False,
        on_idle: Callable[[], object] | None = None,
    ) -> None:
        self._state = _StreamState(matcher, since, autostart, _codec(views))
        # Run once, the first time a get() finds nothing to read and has time to spare:
        # work its caller would otherwise do after the event came (wait_event's verdict).
        self._on_idle = on_idle
        self._sock: _socket.socket | None = None
        self._decoder = FrameDecoder()
        self._pending: deque[bytes] = deque()
        self._last_rx = time.monotonic()
        self._connect(time.monotonic() + ACK_TIMEOUT_S, first=True)

    @property
    def cursor(self) -> str | None:
        """The last event_id this stream has seen (the resume point)."""
        return self._state.cursor

    def _connect(self, deadline: float, *, first: bool = False) -> None:
        delay = 0.01
        while True:
            try:
                sock = connect(autostart=self._state.autostart)
                sock.sendall(self._state.subscribe_frame())
                self._sock, self._decoder, self._pending = sock, FrameDecoder(), deque()
                msg = self._read(deadline)
                if not isinstance(msg, self._state.codec.ack):
                    if isinstance(msg, self._state.codec.rejected):
                        self._state.rejected(msg, "no subscribe_ack")
                    raise _Lost("no subscribe_ack")
                self._state.on_ack(msg)
                return
            except (_Lost, OSError, HubUnavailable) as exc:
                self._close_sock()
                if first and isinstance(exc, HubUnavailable):
                    raise
                if time.monotonic() + delay > deadline:
                    raise HubUnavailable(f"lost the hub and could not reconnect: {exc}") from None
                time.sleep(delay)  # reconnect back-off after a failure, not a poll
                delay = min(delay * 2, 0.5)

    def _read(self, deadline: float | None, *, idle: bool = False) -> object:
        """Next hub message; None at the deadline. Raises _Lost on EOF/silence. With
        `idle`, the on_idle work runs first if nothing has arrived yet."""
        sock = self._sock
        assert sock is not None
        while not self._pending:
            now = time.monotonic()
            limit = self._last_rx + self._state.silence_limit
            wait = min(limit, deadline) - now if deadline is not None else limit - now
            if wait <= 0:
                if deadline is not None and deadline <= limit:
                    return None
                raise _Lost("hub silent past its heartbeat")
            if idle and self._on_idle is not None and wait >= IDLE_MIN_S and not select.select([sock], [], [], 0)[0]:
                work, self._on_idle = self._on_idle, None
                work()
                continue
            ready, _, _ = select.select([sock], [], [], wait)
            if not ready:
                continue
            try:
                data = sock.recv(262144)
            except OSError as exc:
                raise _Lost(str(exc)) from None
            if not data:
                raise _Lost("EOF")
            self._last_rx = time.monotonic()
            try:
                self._pending.extend(self._decoder.feed(data))
            except FrameError as exc:
                raise _Lost(str(exc)) from None
        codec = self._state.codec
        try:
            return codec.decode(self._pending.popleft())
        except codec.errors as exc:
            raise _Lost(f"bad frame from hub: {exc}") from None

    def get(self, timeout: float | None = None) -> EventFrame | None:
        """The next matching event, or None if `timeout` seconds pass first."""
        frame: EventFrame | None = self._next(timeout)
        return frame

    def _next(self, timeout: float | None = None) -> Any:
        """get(), as the event type of this stream's codec (an EventView with views=True)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._sock is None:
                self._connect(time.monotonic() + RECONNECT_TIMEOUT_S)
            try:
                msg = self._read(deadline, idle=True)
                if msg is None:
                    return None
                frame = self._state.on_message(msg)
            except _Lost:
                self._close_sock()
                continue
            if frame is not None:
                return frame

    def __iter__(self) -> Iterator[EventFrame]:
        while True:
            frame = self.get()
            if frame is not None:
                yield frame

    def _close_sock(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        self._close_sock()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        self._close_sock()


async def astream(
    matcher: Matcher, *, since: str | None = None, autostart: bool | None = None
) -> AsyncIterator[EventFrame]:
    """The asyncio twin of Subscription, as an async generator."""
    import asyncio  # here, not at module level: it costs ~15 ms of import time

    state = _StreamState(matcher, since, autostart, _codec(False))
    lost: tuple[type[Exception], ...] = (_Lost, OSError, FrameError, TimeoutError, *state.codec.errors)
    first = True
    while True:
        try:
            raw = await asyncio.to_thread(connect, autostart=autostart)
        except HubUnavailable:
            if first:
                raise
            await asyncio.sleep(0.1)
            continue
        first = False
        import socket  # asyncio imports it anyway; it wants a socket.socket

        reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=raw.detach()))
        decoder = FrameDecoder()
        try:
            writer.write(state.subscribe_frame())
            await writer.drain()
            while True:
                data = await asyncio.wait_for(reader.read(262144), state.silence_limit)
                if not data:
                    raise _Lost("EOF")
                for body in decoder.feed(data):
                    frame = state.on_message(state.codec.decode(body))
                    if frame is not None:
                        yield frame
        except lost:
            pass
        finally:
            writer.close()

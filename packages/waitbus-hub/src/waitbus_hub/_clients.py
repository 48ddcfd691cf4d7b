"""The hub's side of each subscriber connection: accept, handshake, replay at the
client's pace, flush, stats replies, rejection, eviction and drop.

A mixin of Hub (_server.py), which owns the loop and the state these methods share;
the attributes below are declared here so each half type-checks on its own.
"""

from __future__ import annotations

import bisect
import logging
import os
import selectors
import socket
import time
from typing import TYPE_CHECKING

from waitbus_store import Store, StoreError, peer_uid
from waitbus_wire import (
    HEADER_BYTES,
    WHERE_TOO_EXPENSIVE,
    FrameDecoder,
    FrameError,
    HubStats,
    PredicateError,
    SubscribeAck,
    SubscribeError,
    SubscribeRejected,
    decode_subscribe,
    encode_frame,
    encode_message,
)

from ._lifecycle import OUT_OF_FDS, AcceptPause, Lifetime
from ._metrics import Metrics
from ._rows import Prepared
from ._sockinfo import room_for
from ._subscriber import CLOSING, HANDSHAKE, LIVE, REPLAY, Subscriber, WhereTooExpensive, client_stats

if TYPE_CHECKING:
    from collections import OrderedDict

    from ._server import HubConfig

log = logging.getLogger("waitbus_hub")

REPLAY_LOW_WATER = 256 * 1024
REPLAY_SLICE = 200  # rows per turn of the loop (see _pump_replay)
MAX_IGNORED_BYTES = 65536  # bytes a client may send after its subscribe frame before it is dropped

_EVICTION_FRAME = encode_frame(
    encode_message(
        SubscribeRejected(reason="lag_limit_exceeded", remediation="read faster; reconnect with since=<last event_id>")
    )
)


class ClientSide:
    config: HubConfig
    metrics: Metrics
    started: float
    subs: dict[int, Subscriber]
    live: list[Subscriber]
    sel: selectors.BaseSelector
    store: Store
    listener: socket.socket
    head_seq: int
    head_id: str | None
    _cache: OrderedDict[int, Prepared]
    _paused: AcceptPause
    _lifetime: Lifetime

    def _accept(self) -> None:
        for _ in range(64):
            try:
                conn, _addr = self.listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in OUT_OF_FDS:
                    self._pause_accepting(exc)
                    return
                raise
            if peer_uid(conn) != os.getuid():
                self.metrics.rejected_connections += 1
                conn.close()
                continue
            conn.setblocking(False)
            sub = Subscriber(conn, time.monotonic() + self.config.handshake_timeout)
            self.subs[sub.fd] = sub
            self._lifetime.clients(len(self.subs))
            self.sel.register(conn, selectors.EVENT_READ, sub)

    def _pause_accepting(self, exc: OSError) -> None:
        """Out of fds: stop watching the listening socket for a moment (it stays
        readable while connections wait). Connected subscribers are served as usual."""
        self.sel.unregister(self.listener)
        self._paused.pause(exc, len(self.subs))

    def _resume_accepting(self) -> None:
        self._paused.resume_at = None
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self._accept()
        if self._paused.resume_at is None:
            self._paused.resumed()

    def _on_client(self, sub: Subscriber, mask: int) -> None:
        if self.subs.get(sub.fd) is not sub:
            # Dropped earlier in this select() batch; its fd number may already belong
            # to a client accepted since, which this stale event must not touch.
            return
        if mask & selectors.EVENT_READ:
            try:
                data = sub.sock.recv(65536 + 4)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                self._drop(sub)
                return
            if data and sub.state == HANDSHAKE:
                try:
                    self._on_handshake(sub, data)
                except StoreError:
                    raise  # the log, not this client: the loop stops the hub
                except Exception:
                    # Whatever a client sends, it costs at most its own connection.
                    log.exception("dropping client fd %d after an unexpected error", sub.fd)
                    self._drop(sub, rejected=True)
                    return
            elif data:
                # After the subscribe frame a client has nothing to say: a few stray bytes
                # are ignored, but one that keeps sending would cost the loop a recv per
                # 64 KiB, slowing every other subscriber, so it is dropped.
                sub.ignored_bytes += len(data)
                if sub.ignored_bytes > MAX_IGNORED_BYTES:
                    log.warning("dropping client fd %d: it kept sending after its subscribe frame", sub.fd)
                    self._drop(sub, rejected=True)
                    return
        if mask & selectors.EVENT_WRITE and self.subs.get(sub.fd) is sub:
            self._flush(sub)
            if sub.state == REPLAY and sub.queued_bytes < REPLAY_LOW_WATER:
                self._pump_replay(sub)

    def _on_handshake(self, sub: Subscriber, data: bytes) -> None:
        sub.handshake += data
        # Only the first frame counts: bytes after it (even a bad length) are ignored.
        first = int.from_bytes(sub.handshake[:HEADER_BYTES]) if len(sub.handshake) >= HEADER_BYTES else 0
        try:
            bodies = FrameDecoder().feed(bytes(sub.handshake[: HEADER_BYTES + first]))
        except FrameError:
            self._drop(sub, rejected=True)
            return
        if not bodies:
            if len(sub.handshake) > 65536 + 4:
                self._drop(sub, rejected=True)
            return
        try:
            request = decode_subscribe(bodies[0])
            sub.configure(request)
        except SubscribeError as exc:
            if exc.version:
                self._reject(
                    sub,
                    SubscribeRejected(reason="version", supported=[1], remediation="speak proto 1 (see docs/wire.md)"),
                )
            else:
                self._drop(sub, rejected=True)
            return
        except PredicateError:
            self._drop(sub, rejected=True)
            return
        except WhereTooExpensive as exc:
            self._reject(sub, SubscribeRejected(reason=WHERE_TOO_EXPENSIVE, remediation=str(exc)))
            return
        sub.handshake = bytearray()
        if sub.op == "stats":
            self._reply_stats(sub)
            return
        sub.cursor = self.store.seq_at_or_before(request.since) if request.since else self.head_seq
        sub.enqueue(
            encode_frame(
                encode_message(SubscribeAck(caught_up_at=self.head_id, heartbeat_sec=self.config.heartbeat_sec))
            )
        )
        if sub.cursor < self.head_seq:
            sub.state = REPLAY
            self._pump_replay(sub)
        else:
            self._go_live(sub)
        self._flush(sub)

    def _go_live(self, sub: Subscriber) -> None:
        sub.state = LIVE
        sub.cursor = self.head_seq
        # Cheapest filters first (arrival order among equals): costly `where`s, each
        # within MAX_WHERE_COST, delay only one another, not the subscribers before them.
        bisect.insort(self.live, sub, key=_by_cost)

    def _pump_replay(self, sub: Subscriber) -> None:
        """Queue one slice of stored rows after the subscriber's cursor, or join the
        live fan-out at the head. The loop comes back for the next slice while the
        socket stays writable, so live events and other clients get a turn between
        slices: a long replay, or a `where` that skips most of the log, once held the
        loop for tens of ms (the soak's p99 rose from 11 to 58 ms as its log grew)."""
        if sub.state == REPLAY and sub.queued_bytes < REPLAY_LOW_WATER:
            rows = self.store.read_after(sub.cursor, REPLAY_SLICE, upto=self.head_seq)
            for row in rows:
                p = self._cache.get(row.seq) or Prepared(row)
                if sub.wants(p):
                    sub.enqueue(p.frame)
                    self.metrics.frames_sent += 1
                sub.cursor = row.seq
            if not rows or sub.cursor >= self.head_seq:
                self._go_live(sub)
        self._flush(sub)

    def _reply_stats(self, sub: Subscriber) -> None:
        m = self.metrics
        sub.enqueue(
            encode_frame(
                encode_message(
                    HubStats(
                        pid=os.getpid(),
                        uptime_sec=round(time.monotonic() - self.started, 3),
                        subscribers=sum(1 for s in self.subs.values() if s.state in (LIVE, REPLAY)),
                        head_event_id=self.head_id,
                        events_broadcast=m.events_broadcast,
                        frames_sent=m.frames_sent,
                        evictions=m.evictions,
                        rejected_connections=m.rejected_connections,
                        clients=client_stats(self.subs.values(), self.head_seq),
                    )
                )
            )
        )
        sub.state = CLOSING
        self._flush(sub)

    def _flush(self, sub: Subscriber) -> None:
        try:
            done = sub.flush()
        except OSError:
            self._drop(sub)
            return
        if done and sub.state == CLOSING:
            self._drop(sub)
            return
        # A replaying subscriber keeps write interest even once its queue drained: the
        # next writable event pumps its next chunk (else it would wait for a doorbell or
        # the heartbeat tick, up to heartbeat_sec).
        want = not done or sub.state == REPLAY
        if want != sub.want_write:
            sub.want_write = want
            events = selectors.EVENT_READ | (selectors.EVENT_WRITE if want else 0)
            self.sel.modify(sub.sock, events, sub)

    def _reject(self, sub: Subscriber, msg: SubscribeRejected) -> None:
        sub.queue.clear()
        sub.queued_bytes = 0
        sub.enqueue(encode_frame(encode_message(msg)))
        sub.state = CLOSING
        self._flush(sub)

    def _evict(self, sub: Subscriber) -> None:
        """Close a subscriber that cannot keep up: with a reject frame if its stream
        is at a frame boundary, else a bare EOF. Never a torn frame."""
        self.metrics.evictions += 1
        log.warning("evicting subscriber fd %d: %d bytes queued", sub.fd, sub.queued_bytes)
        if sub in self.live:
            self.live.remove(sub)
        if sub.at_boundary() and room_for(sub.sock, len(_EVICTION_FRAME)):
            try:
                sub.sock.send(_EVICTION_FRAME)
            except OSError:
                pass
        self._drop(sub)

    def _drop(self, sub: Subscriber, *, rejected: bool = False) -> None:
        if self.subs.get(sub.fd) is not sub:  # already dropped (the fd may be reused)
            return
        del self.subs[sub.fd]
        self._lifetime.clients(len(self.subs))
        if rejected:
            self.metrics.rejected_connections += 1
        if sub in self.live:
            self.live.remove(sub)
        try:
            self.sel.unregister(sub.sock)
        except (KeyError, ValueError):
            pass
        try:
            sub.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sub.sock.close()


def _by_cost(sub: Subscriber) -> int:
    return sub.cost

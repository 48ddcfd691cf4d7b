"""The hub: one thread, one selector, no state that matters.

Producers commit to the log and ring the doorbell (a datagram socket). The hub then
reads the new rows by seq, encodes each frame once, and queues it to every live
subscriber whose filter wants it. A subscriber that arrives with `since` replays from
the log at its own pace (bounded by its socket), then joins the live set at the exact
seq where it caught up: no gap, no duplicate. Kill the hub at any point and clients
reconnect with their last event_id; the log has everything.
"""

from __future__ import annotations

import bisect
import fcntl
import logging
import os
import selectors
import signal
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass

from waitbus_store import Dirs, Store, StoreError, open_private, peer_uid, prune
from waitbus_wire import (
    HEADER_BYTES,
    WHERE_TOO_EXPENSIVE,
    ExitCode,
    FrameDecoder,
    FrameError,
    Heartbeat,
    HubStats,
    PredicateError,
    SubscribeAck,
    SubscribeError,
    SubscribeRejected,
    decode_subscribe,
    encode_frame,
    encode_message,
)

from ._defaults import HEARTBEAT_SEC, LAG_LIMIT_BYTES, RETENTION_INTERVAL_S
from ._errors import HubError
from ._lifecycle import OUT_OF_FDS, AcceptPause, Lifetime
from ._metrics import Metrics
from ._rows import Prepared
from ._sockinfo import room_for
from ._subscriber import CLOSING, HANDSHAKE, LIVE, REPLAY, Subscriber, WhereTooExpensive, client_stats

log = logging.getLogger("waitbus_hub")

READ_BATCH = 1000
REPLAY_LOW_WATER = 256 * 1024
REPLAY_SLICE = 200  # rows per turn of the loop (see _pump_replay)
# Recent frames reused by subscribers replaying the tail, bounded by count and by
# bytes: an entry holds the row, its frame and maybe the decoded fields (charged as
# 3x the stored fields), so 48 KiB events cannot make the cache hundreds of MB.
FRAME_CACHE = 1024
FRAME_CACHE_BYTES = 8 * 1024 * 1024
FIRST_PRUNE_SEC = 10.0
MAX_IGNORED_BYTES = 65536  # bytes a client may send after its subscribe frame before it is dropped
EXIT_UNREADABLE = ExitCode.USAGE  # the event log cannot be read while serving (docs/exit-codes.md)
# The WAL is checkpointed this long after the last activity, not on a fixed tick:
# an idle hub wakes only for heartbeats.
CHECKPOINT_DELAY_SEC = 1.0


_EVICTION_FRAME = encode_frame(
    encode_message(
        SubscribeRejected(reason="lag_limit_exceeded", remediation="read faster; reconnect with since=<last event_id>")
    )
)


@dataclass
class HubConfig:
    heartbeat_sec: int = HEARTBEAT_SEC
    lag_limit_bytes: int = LAG_LIMIT_BYTES
    handshake_timeout: float = 5.0
    drain_timeout: float = 5.0
    # Retention, applied shortly after start and then every retention_interval_s.
    retention_seconds: float | None = None
    retention_rows: int | None = None
    retention_bytes: int | None = None
    retention_interval_s: float = RETENTION_INTERVAL_S
    # Exit (draining, code 0) after this many seconds with no client; 0 never. Set for
    # a hub a client started in the background, which nobody else would ever stop.
    idle_exit_sec: float = 0.0

    @property
    def retention_enabled(self) -> bool:
        return any(v is not None for v in (self.retention_seconds, self.retention_rows, self.retention_bytes))


class Hub:
    def __init__(self, dirs: Dirs, config: HubConfig | None = None) -> None:
        self.dirs = dirs
        self.config = config or HubConfig()
        self.metrics = Metrics()
        self.started = time.monotonic()
        self.subs: dict[int, Subscriber] = {}
        self.live: list[Subscriber] = []
        self.sel = selectors.DefaultSelector()
        self._cache: OrderedDict[int, Prepared] = OrderedDict()
        self._cache_bytes = 0
        self._stopping = False
        self._lock_fd: int | None = None
        self._own_socket_path = True
        self.store: Store
        self.listener: socket.socket
        self.doorbell: socket.socket
        self.head_seq = 0
        self.head_id: str | None = None
        self._rows_since_checkpoint = 0
        self._last_rows_at = 0.0
        self._paused = AcceptPause()
        self._lifetime = Lifetime(dirs.db, self.config.idle_exit_sec)
        self.exit_code = 0

    # -- start-up ----------------------------------------------------------------

    def open(self) -> None:
        # Handlers first: a client may connect (and a supervisor send SIGTERM) as soon
        # as the socket listens, and a stop then must drain and exit 0, not kill us.
        self._wake_r, self._wake_w = socket.socketpair()
        for s in (self._wake_r, self._wake_w):
            s.setblocking(False)
        signal.set_wakeup_fd(self._wake_w.fileno(), warn_on_full_buffer=False)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)
        dirs = self.dirs.ensure()
        self._take_lock()
        old = os.umask(0o177)
        try:
            self.doorbell = self._bind_doorbell()
            self.listener = self._listening_socket()
        finally:
            os.umask(old)
        # The doorbell is bound before the head is read: a commit after this point
        # rings us, a commit before it is at or below the head.
        self.store = Store(dirs.db)
        # The hub reads only the newest rows: a small page cache (512 KiB instead of
        # SQLite's 2 MiB default) keeps its resident size down.
        self.store.connection.execute("PRAGMA cache_size = -512")
        self._lifetime.log_opened()
        head = self.store.head()
        self.head_seq, self.head_id = head if head else (0, None)
        self.sel.register(self.listener, selectors.EVENT_READ, "accept")
        self.sel.register(self.doorbell, selectors.EVENT_READ, "doorbell")
        self.sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        log.info("hub %d serving %s (head seq %d)", os.getpid(), dirs.socket, self.head_seq)

    def _take_lock(self) -> None:
        # O_NOFOLLOW: a symlink here must not make us write our pid into someone's file.
        fd = open_private(self.dirs.hub_lock, os.O_RDWR | os.O_CREAT)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = _holder_pid(fd)
            os.close(fd)
            raise HubError(f"another hub (pid {other}) is already serving {self.dirs.socket}", code=3) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd

    def _bind_doorbell(self) -> socket.socket:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        _unlink(self.dirs.doorbell)
        s.bind(self.dirs.doorbell)
        s.setblocking(False)
        return s

    def _listening_socket(self) -> socket.socket:
        if os.environ.get("LISTEN_PID") == str(os.getpid()) and os.environ.get("LISTEN_FDS") == "1":
            # systemd socket activation: the unit owns the path; we inherit fd 3.
            s = socket.socket(fileno=3)
            self._own_socket_path = False
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            _unlink(self.dirs.socket)  # we hold the lock, so any file here is stale
            s.bind(self.dirs.socket)  # 0600 by the umask in open(): no chmod through the path
            s.listen(512)
        s.setblocking(False)
        return s

    # -- the loop ------------------------------------------------------------------

    def serve(self) -> int:
        next_beat = time.monotonic() + self.config.heartbeat_sec
        never = float("inf")
        first = min(FIRST_PRUNE_SEC, self.config.retention_interval_s)
        next_prune = time.monotonic() + (first if self.config.retention_enabled else never)
        while not self._stopping:
            now = time.monotonic()
            handshakes = (s.deadline for s in self.subs.values() if s.state == HANDSHAKE)
            next_ckpt = self._last_rows_at + CHECKPOINT_DELAY_SEC if self._rows_since_checkpoint else never
            resume = self._paused.resume_at if self._paused.resume_at is not None else never
            idle_exit = self._lifetime.idle_deadline()
            timeout = min(next_beat, next_ckpt, next_prune, resume, idle_exit, *handshakes) - now
            try:
                for key, mask in self.sel.select(max(0.0, timeout)):
                    tag = key.data
                    if tag == "doorbell":
                        self._drain_doorbell()
                        self._read_new_rows()
                    elif tag == "accept":
                        if self._log_gone():  # a new client must not wait on a hub for a deleted log
                            break
                        self._accept()
                    elif tag == "wake":
                        self._drain_wake()
                    else:
                        self._on_client(tag, mask)
                now = time.monotonic()
                if now >= next_beat:
                    if self._log_gone():
                        break
                    self._read_new_rows()  # safety net: a lost doorbell delays an event at most this long
                    self._heartbeat()
                    next_beat = now + self.config.heartbeat_sec
            except StoreError as exc:
                # A log the hub cannot read (a corrupt page, an I/O error) would fail
                # every replay and every wake the same way: stop and say so once.
                log.error("cannot read the event log, stopping: %s", exc)
                self._drain()
                return EXIT_UNREADABLE
            if now >= resume:
                self._resume_accepting()
            if now >= next_ckpt:
                self._checkpoint()
            if now >= next_prune:
                self._apply_retention()
                next_prune = time.monotonic() + self.config.retention_interval_s
            for sub in [s for s in self.subs.values() if s.state == HANDSHAKE and s.deadline <= now]:
                self._drop(sub, rejected=True)
            if now >= idle_exit and self._still_idle():
                self._lifetime.say_idle()
                break
        code = self._drain()
        return self.exit_code or code

    def _still_idle(self) -> bool:
        """Take any client already waiting in the backlog before giving up: it would
        otherwise be reset by the exit and have to start a hub of its own."""
        if self._paused.resume_at is None:
            self._accept()
        return not self.subs

    def _log_gone(self) -> bool:
        """True, and the hub is stopping with exit 2, once its event log is gone."""
        if not self._lifetime.log_gone():
            return False
        self.exit_code = EXIT_UNREADABLE
        self._stopping = True
        return True

    def _on_signal(self, signum: int, _frame: object) -> None:
        self._stopping = True

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(512):
                pass
        except BlockingIOError:
            pass

    def _drain_doorbell(self) -> None:
        try:
            while True:
                self.doorbell.recv(64)
        except BlockingIOError:
            pass

    def _prepare(self, row_seq: int, row: object) -> Prepared:
        p = self._cache.get(row_seq)
        if p is None:
            p = Prepared(row)  # type: ignore[arg-type]
            self._cache[row_seq] = p
            self._cache_bytes += p.size()
            while len(self._cache) > FRAME_CACHE or (self._cache_bytes > FRAME_CACHE_BYTES and len(self._cache) > 1):
                self._cache_bytes -= self._cache.popitem(last=False)[1].size()
        return p

    def _read_new_rows(self) -> None:
        t0 = time.perf_counter()
        while True:
            rows = self.store.read_after(self.head_seq, READ_BATCH)
            if not rows:
                break
            prepared = [self._prepare(r.seq, r) for r in rows]
            self.head_seq, self.head_id = rows[-1].seq, rows[-1].event_id
            self.metrics.events_broadcast += len(rows)
            self._rows_since_checkpoint += len(rows)
            self._last_rows_at = time.monotonic()
            for sub in list(self.live):
                for p in prepared:
                    if p.seq > sub.cursor and sub.wants(p):
                        sub.enqueue(p.frame)
                        self.metrics.frames_sent += 1
                sub.cursor = self.head_seq
                if sub.queued_bytes > self.config.lag_limit_bytes:
                    self._evict(sub)
                else:
                    self._flush(sub)
            if len(rows) < READ_BATCH:
                break
        # Replaying subscribers were waiting on the head; let them catch up to it.
        for sub in [s for s in self.subs.values() if s.state == REPLAY]:
            self._pump_replay(sub)
        self.metrics.observe_latency(time.perf_counter() - t0)

    def _checkpoint(self) -> None:
        """Fold the WAL into the database while idle, so producers never pay for it
        inside emit() (their own auto-checkpoint is only a high safety net)."""
        if self._rows_since_checkpoint:
            try:
                self.store.checkpoint()
            except StoreError as exc:
                log.warning("checkpoint failed: %s", exc)
            self._rows_since_checkpoint = 0

    def _apply_retention(self) -> None:
        """Keep the log bounded so it never grows without limit. Runs in the loop:
        each delete batch is one short transaction, so fan-out pauses only briefly."""
        c = self.config
        try:
            result = prune(
                self.store, older_than_s=c.retention_seconds, max_rows=c.retention_rows, max_bytes=c.retention_bytes
            )
        except StoreError as exc:
            log.warning("retention failed: %s", exc)
            return
        self.metrics.pruned += result.deleted
        if result.deleted:
            log.info("retention removed %d events (%d left)", result.deleted, result.remaining)

    def _heartbeat(self) -> None:
        frame = encode_frame(
            encode_message(Heartbeat(ts=time.time(), uptime_sec=round(time.monotonic() - self.started, 3)))
        )
        for sub in list(self.subs.values()):
            if sub.state in (LIVE, REPLAY):
                sub.enqueue(frame)
                self._flush(sub)

    # -- clients -------------------------------------------------------------------

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

    # -- shutdown --------------------------------------------------------------------

    def _drain(self) -> int:
        """SIGTERM: stop accepting, deliver what is committed and queued, EOF, exit 0."""
        log.info("draining %d subscribers", len(self.subs))
        if self._paused.resume_at is None:
            self.sel.unregister(self.listener)
        self.listener.close()
        if self._own_socket_path:
            _unlink(self.dirs.socket)
        try:
            self._read_new_rows()
        except StoreError:
            pass  # an unreadable log is why we stop; it was said then
        self.sel.unregister(self.doorbell)
        self.doorbell.close()
        _unlink(self.dirs.doorbell)
        for sub in list(self.subs.values()):
            if sub.state in (HANDSHAKE, REPLAY):
                # A replaying client will resume from its cursor on reconnect.
                sub.state = CLOSING if sub.state == REPLAY else sub.state
            if sub.state == HANDSHAKE:
                self._drop(sub)
            else:
                sub.state = CLOSING
                self._flush(sub)
        deadline = time.monotonic() + self.config.drain_timeout
        while self.subs and time.monotonic() < deadline:
            for key, mask in self.sel.select(0.05):
                if isinstance(key.data, Subscriber):
                    self._on_client(key.data, mask)
        for sub in list(self.subs.values()):
            self._drop(sub)
        self.close()
        return 0

    def close(self) -> None:
        self.store.close()
        signal.set_wakeup_fd(-1)
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None


def _holder_pid(fd: int) -> str:
    """The pid in the lock file. Its holder writes it just after taking the lock, so a hub
    that lost a start-up race by microseconds can read an empty file or a crashed hub's
    pid: re-read briefly until it names a live process."""
    deadline = time.monotonic() + 1.0
    while True:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if (text.isdigit() and _alive(int(text))) or time.monotonic() > deadline:
            return text or "?"
        time.sleep(0.01)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _by_cost(sub: Subscriber) -> int:
    return sub.cost


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

"""The hub: one thread, one selector, no state that matters.

Producers commit to the log and ring the doorbell (a datagram socket) with the row
they committed. The hub fans that row out at once when it is the next after its head,
and reads the log by seq for anything else (a gap, a bare ring); each frame is encoded
once and queued to every live subscriber whose filter wants it. A subscriber that arrives with `since` replays from
the log at its own pace (bounded by its socket), then joins the live set at the exact
seq where it caught up: no gap, no duplicate. Kill the hub at any point and clients
reconnect with their last event_id; the log has everything.
"""

from __future__ import annotations

import fcntl
import logging
import os
import selectors
import signal
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass

from waitbus_store import Dirs, Row, Store, StoreError, open_private, prune
from waitbus_wire import (
    ExitCode,
    Heartbeat,
    encode_frame,
    encode_message,
)

from ._clients import ClientSide
from ._defaults import HEARTBEAT_SEC, LAG_LIMIT_BYTES, RETENTION_INTERVAL_S
from ._doorbell import drain, full_drain
from ._errors import HubError
from ._lifecycle import AcceptPause, Lifetime
from ._metrics import Metrics
from ._rows import Prepared
from ._subscriber import CLOSING, HANDSHAKE, LIVE, REPLAY, Subscriber

log = logging.getLogger("waitbus_hub")

READ_BATCH = 1000
# Recent frames reused by subscribers replaying the tail, bounded by count and by
# bytes: an entry holds the row, its frame and maybe the decoded fields (charged as
# 3x the stored fields), so 48 KiB events cannot make the cache hundreds of MB.
FRAME_CACHE = 1024
FRAME_CACHE_BYTES = 8 * 1024 * 1024
FIRST_PRUNE_SEC = 10.0
EXIT_UNREADABLE = ExitCode.USAGE  # the event log cannot be read while serving (docs/exit-codes.md)
# The WAL is checkpointed this long after the last activity, not on a fixed tick:
# an idle hub wakes only for heartbeats.
CHECKPOINT_DELAY_SEC = 1.0


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


class Hub(ClientSide):
    """The loop: start-up, the doorbell and the log's new rows, heartbeats, retention,
    shutdown. The subscriber side of each connection is ClientSide's (_clients.py)."""

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
        self.stop_signal: int | None = None  # the signal that stopped serve(), if one did
        self._lock_fd: int | None = None
        self._own_socket_path = True
        self.store: Store
        self.listener: socket.socket
        self.doorbell: socket.socket
        self._full_drain = full_drain()  # datagrams in one drain that mean one may have been dropped
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
        self._origin = os.path.realpath(dirs.db)  # the log a carried row must name (waitbus_store.carry)
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
            handshakes = () if self._all_live() else (s.deadline for s in self.subs.values() if s.state == HANDSHAKE)
            next_ckpt = self._last_rows_at + CHECKPOINT_DELAY_SEC if self._rows_since_checkpoint else never
            resume = self._paused.resume_at if self._paused.resume_at is not None else never
            idle_exit = self._lifetime.idle_deadline()
            timeout = min(next_beat, next_ckpt, next_prune, resume, idle_exit, *handshakes) - now
            try:
                for key, mask in self.sel.select(max(0.0, timeout)):
                    tag = key.data
                    if tag == "doorbell":
                        self._on_doorbell()
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
            if not self._all_live():
                for sub in [s for s in self.subs.values() if s.state == HANDSHAKE and s.deadline <= now]:
                    self._drop(sub, rejected=True)
            if now >= idle_exit and self._still_idle():
                self._lifetime.say_idle()
                break
        code = self._drain()
        return self.exit_code or code

    def _all_live(self) -> bool:
        """Every client is a live subscriber (the usual state): no handshake deadline to
        watch, no replay to pump, so the loop skips its scans of every client."""
        return len(self.subs) == len(self.live)

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
        self.stop_signal = signum
        self._stopping = True

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(512):
                pass
        except BlockingIOError:
            pass

    def _on_doorbell(self) -> None:
        """Fan out the rows the producers carried (no read of the log on the live
        path); read the log only for what they could not bring (_doorbell.drain)."""
        rows, read_log = drain(self.doorbell, self._origin, self.head_seq, self._full_drain)
        if rows:
            t0 = time.perf_counter()
            self._fan_out(rows)
            if not read_log:
                self._after_fan_out(t0)
        if read_log:
            self._read_new_rows()

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
            self._fan_out(rows)
            if len(rows) < READ_BATCH:
                break
        self._after_fan_out(t0)

    def _fan_out(self, rows: list[Row]) -> None:
        """Send rows that follow the head, in seq order, to every live subscriber."""
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

    def _after_fan_out(self, t0: float) -> None:
        # Replaying subscribers were waiting on the head; let them catch up to it.
        if not self._all_live():
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


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass

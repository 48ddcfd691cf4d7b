"""Outbound: local events that match the predicate, published to JetStream in log order.

The source of truth is the local log itself, read from a cursor (a bookmark in the
log, `bridge-nats:<stream>`), so a restart, a kill -9 or a long network cut resumes
exactly where the last acknowledged batch ended. A batch is published pipelined, every
PubAck is awaited, and only then does the cursor move: a crash in between republishes
the batch, and JetStream drops the repeats by `Nats-Msg-Id` (the event id). Receivers
also dedup on the event id, so a repeat after the duplicate window still stores once.

Live, the bridge sleeps on a hub subscription with the same predicate and drains the
log whenever it rings (no polling). `--drain` needs no hub: it reads to the end and exits.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import msgspec

from waitbus_store import ConfigError, PathError, Store, StoreError, resolve_paths
from waitbus_wire import ulid_from_parts

from ._config import BridgeConfig
from ._connect import Log
from ._envelope import encode, headers_for, subject_for
from ._errors import StoreFailed
from ._predicate import OutboundFilter

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

ZERO_ULID = ulid_from_parts(0, 0)  # sorts before every event id: "the start of the log"
BATCH = 256
ACK_TIMEOUT_S = 10.0
RETRY_MAX_S = 10.0


class Outbound:
    def __init__(self, cfg: BridgeConfig, nc: Client, js: JetStreamContext, log: Log) -> None:
        assert cfg.outbound is not None
        self.cfg, self.nc, self.js, self.log = cfg, nc, js, log
        self.filter: OutboundFilter = cfg.outbound
        self.store: Store | None = None
        self.cursor = ZERO_ULID
        self.seq = 0
        self.published = 0
        self.duplicates = 0  # PubAcks saying JetStream already had the message
        self._hub_error: BaseException | None = None

    def open(self) -> None:
        """Open the log and load the cursor; a first run stores where it starts."""
        try:
            paths = resolve_paths().ensure()
            self.store = Store(str(paths.db))
            cursor = self.store.get_bookmark(self.cfg.bookmark)
            if cursor is None:
                head = self.store.head() if self.cfg.start == "now" else None
                cursor = head[1] if head else ZERO_ULID
                # Stored now, so a crash before the first batch cannot move the start.
                self.store.set_bookmark(self.cfg.bookmark, cursor)
                where = "the start of the log" if cursor == ZERO_ULID else f"after {cursor} (now)"
                self.log(f"outbound: first run, publishing from {where}")
            self.cursor, self.seq = cursor, self.store.seq_at_or_before(cursor)
        except (StoreError, PathError) as exc:
            raise StoreFailed(f"cannot use the local event log: {exc}") from None

    async def drain(self) -> int:
        """Publish every pending matching event and move the cursor; the count published."""
        assert self.store is not None
        total = 0
        while True:
            try:
                rows = self.store.read_after(self.seq, limit=BATCH)
            except StoreError as exc:
                raise StoreFailed(f"cannot read the local event log: {exc}") from None
            if not rows:
                return total
            pending = []
            for row in rows:
                try:
                    wanted = self.filter.wants(row.to_frame())
                except msgspec.DecodeError:  # fields that are not JSON never match (as at the hub)
                    wanted = False
                if not wanted:
                    continue
                found = self.store.get(row.event_id)
                payload = found[1] if found else None
                body = encode(row, payload, origin=self.cfg.host, bus=self.cfg.bus_id, max_payload=self.nc.max_payload)
                subject = subject_for(self.cfg.subject_prefix, row.source, row.event_type)
                pending.append(
                    await self.js.publish_async(
                        subject,
                        body,
                        headers=headers_for(row, self.cfg.host, self.cfg.bus_id),
                        wait_stall=ACK_TIMEOUT_S,
                    )
                )
            if pending:
                # A lost ack (server restart, cut) times out the batch; the retry
                # republishes it and JetStream drops what it already stored.
                acks = await asyncio.wait_for(asyncio.gather(*pending), ACK_TIMEOUT_S)
                self.duplicates += sum(1 for a in acks if a.duplicate)
            self.cursor, self.seq = rows[-1].event_id, rows[-1].seq
            try:
                self.store.set_bookmark(self.cfg.bookmark, self.cursor)
            except StoreError as exc:
                raise StoreFailed(f"cannot save the outbound cursor: {exc}") from None
            total += len(pending)
            self.published += len(pending)

    async def run(self) -> None:
        """Drain now and whenever the hub sees a matching event; retry on NATS errors."""
        from nats.errors import Error as NatsError

        assert self.store is not None
        wake = asyncio.Event()
        wake.set()
        head = self.store.head()
        watcher = asyncio.create_task(self._watch(wake, head[1] if head else ZERO_ULID))
        delay = 0.5
        try:
            while True:
                await wake.wait()
                wake.clear()
                if self._hub_error is not None:
                    raise ConfigError(
                        f"outbound needs the local hub to wake it: {self._hub_error} "
                        "(or run with --drain, which reads the log and exits)"
                    )
                try:
                    await self.drain()
                    delay = 0.5
                except (NatsError, TimeoutError, OSError) as exc:
                    self.log(f"outbound: publishing failed ({type(exc).__name__}: {exc}); retrying in {delay:g}s")
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, RETRY_MAX_S)
                    wake.set()
        finally:
            watcher.cancel()

    async def _watch(self, wake: asyncio.Event, since: str) -> None:
        """Ring `wake` for every matching event committed after `since` (the head when
        the first drain started, so nothing falls between the drain and the watch)."""
        from waitbus import HubUnavailable, asubscribe

        try:
            async for _frame in asubscribe(first_of=self.filter.clauses(), since=since):
                wake.set()
        except HubUnavailable as exc:
            self._hub_error = exc
            wake.set()

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

"""Inbound: other machines' events, from this bus's durable JetStream consumer into the
local log, where every local waiter sees them like any other event.

Each remote event is stored with `delivery_id` = its event id on the machine that
emitted it, so a redelivery (a lost ack, a restart, a republish) is a no-op in the
log; it is acknowledged only after that commit. Its fields gain `remote`: the origin
host label, the origin bus's identity, the remote event id and the remote `received_at`.
Messages this bus published itself (its identity, not its host name, which other buses
may share) are acknowledged and skipped unread (no echo). The consumer keeps its position
on the server, so a restart or a network cut resumes where the acks stopped.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import msgspec

from waitbus_store import ConfigError, PathError, StoreError

from ._config import BridgeConfig
from ._connect import Log
from ._envelope import BUS_HEADER, Envelope, decode
from ._errors import StoreFailed
from ._predicate import REMOTE_KEY

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

FETCH_BATCH = 256
FETCH_WAIT_S = 5.0
ACK_WAIT_S = 30.0
MAX_ACK_PENDING = 4096
RETRY_MAX_S = 10.0


def store_remote(env: Envelope) -> bool:
    """Store one remote event locally (and ring the hub); False if it was already stored."""
    from waitbus import EventError, emit

    fields = msgspec.json.decode(env.fields)
    if not isinstance(fields, dict):
        raise EventError(f"remote event {env.event_id} has fields that are not a JSON object")
    remote: dict[str, Any] = {"host": env.origin, "event_id": env.event_id, "received_at": env.received_at}
    if env.bus:
        remote["bus"] = env.bus
    if env.payload_omitted:
        remote["payload_omitted"] = True
    fields[REMOTE_KEY] = remote
    common: dict[str, Any] = {
        "payload": env.payload,
        "delivery_id": env.event_id,
        "owner": env.owner,
        "repo": env.repo,
        "summary": env.summary or None,
    }
    try:
        return emit(env.source, env.event_type, fields=fields, **common).inserted
    except EventError:
        # Fields at the 48 KiB cap have no room for `remote`: keep the event, say so.
        remote["fields_dropped"] = True
        return emit(env.source, env.event_type, fields={REMOTE_KEY: remote}, **common).inserted


def _store_all(envs: list[Envelope]) -> list[bool | str]:
    """store_remote for each, in order: inserted or not, or why the event is invalid."""
    from waitbus import EventError

    results: list[bool | str] = []
    for env in envs:
        try:
            results.append(store_remote(env))
        except EventError as exc:
            results.append(str(exc))
    return results


class Inbound:
    def __init__(self, cfg: BridgeConfig, js: JetStreamContext, log: Log) -> None:
        self.cfg, self.js, self.log = cfg, js, log
        self.stored = 0
        self.duplicates = 0  # redeliveries the log already had
        self.own = 0  # our own messages, skipped
        self.dropped = 0  # unreadable or invalid messages, terminated
        self._sub: JetStreamContext.PullSubscription | None = None

    async def open(self) -> None:
        """Create the durable consumer on first use, then bind to it."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import APIError, NotFoundError

        cfg = self.cfg

        def config(**start: Any) -> ConsumerConfig:
            return ConsumerConfig(
                durable_name=cfg.consumer,
                name=cfg.consumer,
                ack_policy=AckPolicy.EXPLICIT,
                filter_subject=cfg.inbound_subject,
                ack_wait=ACK_WAIT_S,
                max_ack_pending=MAX_ACK_PENDING,
                **start,
            )

        try:
            try:
                info = await self.js.consumer_info(cfg.stream, cfg.consumer)
            except NotFoundError:
                policy = DeliverPolicy.ALL if cfg.inbound_start == "all" else DeliverPolicy.NEW
                await self.js.add_consumer(cfg.stream, config(deliver_policy=policy))
                self.log(f"inbound: created durable consumer {cfg.consumer} ({cfg.inbound_subject})")
            else:
                if info.config.filter_subject not in (None, "", cfg.inbound_subject):
                    self.log(
                        f"inbound: consumer {cfg.consumer} filters {info.config.filter_subject!r}, not "
                        f"{cfg.inbound_subject!r}; delete it (nats consumer rm {cfg.stream} {cfg.consumer}) to change"
                    )
                if info.num_ack_pending and info.ack_floor is not None:
                    # The last run died holding delivered, unacked messages: JetStream would
                    # resend them only after ack_wait, behind newer ones. Restart the consumer
                    # just past its ack floor instead, so the order holds (repeats dedup).
                    start = (info.ack_floor.stream_seq or 0) + 1
                    await self.js.delete_consumer(cfg.stream, cfg.consumer)
                    await self.js.add_consumer(
                        cfg.stream, config(deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=start)
                    )
                    self.log(
                        f"inbound: {info.num_ack_pending} message(s) were unacknowledged when the last run "
                        f"stopped; resuming in order from stream sequence {start}"
                    )
            self._sub = await self.js.pull_subscribe_bind(durable=cfg.consumer, stream=cfg.stream)
        except APIError as exc:
            raise ConfigError(f"cannot create or bind consumer {cfg.consumer} on {cfg.stream}: {exc}") from None

    async def run(self) -> None:
        """Fetch, store, ack, forever; NATS errors pause and retry (the client reconnects)."""
        from nats.errors import Error as NatsError
        from nats.errors import TimeoutError as NatsTimeout

        assert self._sub is not None
        delay = 0.5
        while True:
            try:
                msgs = await self._sub.fetch(FETCH_BATCH, timeout=FETCH_WAIT_S)
            except NatsTimeout:
                continue  # nothing new
            except (NatsError, OSError) as exc:
                self.log(f"inbound: fetch failed ({type(exc).__name__}: {exc}); retrying in {delay:g}s")
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX_S)
                continue
            delay = 0.5
            await self._handle(msgs)

    async def _handle(self, msgs: list[Msg]) -> None:
        """Skip our own and unreadable messages, store the rest in one worker-thread
        hop (in order), then ack each stored one."""
        work: list[tuple[Msg, Envelope]] = []
        for msg in msgs:
            if (msg.headers or {}).get(BUS_HEADER) == self.cfg.bus_id:
                self.own += 1
                await msg.ack()
                continue
            try:
                env = decode(msg.data)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                self._drop(msg, f"unreadable body ({exc})")
                await msg.term()
                continue
            if env.bus == self.cfg.bus_id:
                self.own += 1
                await msg.ack()
                continue
            work.append((msg, env))
        if not work:
            return
        try:
            results = await asyncio.to_thread(_store_all, [env for _, env in work])
        except (StoreError, PathError) as exc:
            raise StoreFailed(f"cannot store a remote event in the local log: {exc}") from None
        for (msg, env), result in zip(work, results, strict=True):
            if isinstance(result, str):
                self._drop(msg, f"invalid event {env.event_id} from {env.origin} ({result})")
                await msg.term()
                continue
            if result:
                self.stored += 1
            else:
                self.duplicates += 1
            await msg.ack()

    def _drop(self, msg: Msg, why: str) -> None:
        self.dropped += 1
        self.log(f"inbound: dropping a message on {msg.subject}: {why}")

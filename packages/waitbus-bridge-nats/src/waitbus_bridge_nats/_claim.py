"""One bridge per bus on a NATS server: two bridges of one bus would share its durable
consumer (each taking half the events) and drop each other's events as their own echo.

A bus is named by its identity, the random id its log was created with (waitbus_store
.bus_id); the host name is only a label. Each running bridge answers on
`_waitbus.bus.<stream>.<bus id>` with when it started. A starting bridge listens there,
asks, and stops (exit 3) if a bridge of its bus started before it; it asks again every
RECHECK_S, so two that started at the same moment, or met after a partition, settle on
the earlier one. Nothing is left behind by a killed bridge: its subscription ends with
its connection, so a restart after kill -9 is never refused.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from typing import TYPE_CHECKING, Any

import msgspec

from ._config import BridgeConfig
from ._connect import Log
from ._errors import AlreadyConnected

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.aio.msg import Msg

LISTEN_S = 1.0  # how long a check collects answers
RECHECK_S = 10.0


class Claimant(msgspec.Struct):
    bus: str
    host: str
    pid: int
    since: int  # ns since the epoch: the earlier bridge keeps the bus
    nonce: str  # breaks a tie, and tells a bridge its own answer

    def key(self) -> tuple[int, str]:
        return (self.since, self.nonce)


class Claim:
    def __init__(self, cfg: BridgeConfig, nc: Client, log: Log) -> None:
        self.cfg, self.nc, self.log = cfg, nc, log
        self.subject = f"_waitbus.bus.{cfg.stream}.{cfg.bus_id}"
        self.me = Claimant(cfg.bus_id, cfg.host, os.getpid(), time.time_ns(), secrets.token_hex(8))
        self._mine = msgspec.json.encode(self.me)
        self._sub: Any = None

    async def start(self) -> None:
        """Answer for this bus, then check that no earlier bridge of it is connected."""

        async def answer(msg: Msg) -> None:
            if msg.reply:
                await self.nc.publish(msg.reply, self._mine)

        self._sub = await self.nc.subscribe(self.subject, cb=answer)
        await self.nc.flush()
        await self.check()

    async def check(self) -> None:
        """Raise AlreadyConnected if a bridge of this bus started before this one."""
        answers: list[bytes] = []

        async def collect(msg: Msg) -> None:
            answers.append(msg.data)

        inbox = self.nc.new_inbox()
        sub = await self.nc.subscribe(inbox, cb=collect)
        try:
            await self.nc.publish(self.subject, self._mine, reply=inbox)
            await asyncio.sleep(LISTEN_S)
        finally:
            await sub.unsubscribe()
        for data in answers:
            try:
                other = msgspec.json.decode(data, type=Claimant)
            except msgspec.DecodeError:
                continue  # not a bridge's answer
            if other.nonce != self.me.nonce and other.key() < self.me.key():
                raise AlreadyConnected(self._refusal(other))

    async def watch(self) -> None:
        """Check again now and then, for as long as the bridge runs."""
        from nats.errors import Error as NatsError

        while True:
            await asyncio.sleep(RECHECK_S)
            try:
                await self.check()
            except (NatsError, OSError) as exc:
                self.log(f"identity check failed ({type(exc).__name__}); trying again in {RECHECK_S:g}s")

    def _refusal(self, other: Claimant) -> str:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(other.since / 1e9))
        return (
            f"bus {self.cfg.bus_id} already has a bridge on stream {self.cfg.stream} (host {other.host!r}, "
            f"pid {other.pid}, since {since}); stop that one first: two bridges of one bus would share its "
            "consumer and take each other's events for echoes. If this machine's event log was copied from "
            "another machine (a cloned VM or image), move the log away here so this bus gets its own identity "
            "(docs/bridge.md)"
        )

"""The bridge process: configuration, connection, the two directions, signals, exit codes."""

from __future__ import annotations

import asyncio
import signal
import sys
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from waitbus_store import ConfigError

from ._claim import Claim
from ._config import BridgeConfig, load
from ._connect import connect, ensure_stream
from ._errors import INTERRUPTED, OK, USAGE, BridgeError, StoreFailed
from ._inbound import Inbound
from ._outbound import Outbound
from ._secrets import auth_options, describe

if TYPE_CHECKING:
    from nats.js import JetStreamContext

CLOSE_TIMEOUT_S = 5.0


def _logger(prog: str) -> Callable[[str], None]:
    def log(message: str) -> None:
        print(f"{prog}: {message}", file=sys.stderr, flush=True)

    return log


async def serve(cfg: BridgeConfig, log: Callable[[str], None]) -> int:
    """Run the bridge until SIGTERM/SIGINT (or, with `drain`, until the log is published).
    Raises BridgeError subclasses for the documented failures."""
    from waitbus_store import PathError, StoreError, bus_id, read_secrets, resolve_paths

    auth = auth_options(read_secrets(resolve_paths().secrets))  # a SecretsError is a ConfigError
    try:
        cfg = cfg.for_bus(bus_id(resolve_paths().ensure().db))
    except (StoreError, PathError) as exc:
        raise StoreFailed(f"cannot read this bus's identity from the local log: {exc}") from None
    nc = await connect(cfg, auth, log)
    outbound: Outbound | None = None
    try:
        claim = Claim(cfg, nc, log)
        await claim.start()  # refuses a second bridge of this bus before it touches the consumer
        js = nc.jetstream(timeout=10.0)
        await ensure_stream(js, cfg, log)
        outbound = Outbound(cfg, nc, js, log) if cfg.outbound is not None else None
        if outbound is not None:
            outbound.open()
        url = nc.connected_url.geturl() if nc.connected_url else cfg.urls[0]
        log(
            f"connected to {url} as bus {cfg.bus_id} ({cfg.host!r}; {describe(auth)}); stream {cfg.stream}; "
            f"outbound: {cfg.outbound.describe() if cfg.outbound else 'off (no predicate)'}; "
            f"inbound: {'consumer ' + cfg.consumer if cfg.inbound else 'off'}"
        )
        if cfg.drain:
            assert outbound is not None
            count = await outbound.drain()
            log(f"drained: published {count} event(s) ({outbound.duplicates} already in the stream)")
            return OK
        return await _until_stopped(cfg, js, outbound, claim, log)
    finally:
        if outbound is not None:
            outbound.close()
        try:
            await asyncio.wait_for(nc.close(), CLOSE_TIMEOUT_S)
        except Exception as exc:  # closing a dead connection must not mask the exit reason
            log(f"closing the NATS connection: {type(exc).__name__}")


async def _until_stopped(
    cfg: BridgeConfig, js: JetStreamContext, outbound: Outbound | None, claim: Claim, log: Callable[[str], None]
) -> int:
    inbound = Inbound(cfg, js, log) if cfg.inbound else None
    if inbound is not None:
        await inbound.open()
    stop = asyncio.Event()
    got: list[int] = []
    loop = asyncio.get_running_loop()

    def on_signal(sig: int) -> None:
        got.append(sig)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, on_signal, sig)
    tasks: list[asyncio.Task[object]] = [
        asyncio.create_task(stop.wait(), name="stop"),
        asyncio.create_task(claim.watch(), name="claim"),
    ]
    if outbound is not None:
        tasks.append(asyncio.create_task(outbound.run(), name="outbound"))
    if inbound is not None:
        tasks.append(asyncio.create_task(inbound.run(), name="inbound"))
    log("running")
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
    for task in done:
        if task.get_name() != "stop" and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]
    parts = []
    if outbound is not None:
        parts.append(f"published {outbound.published} ({outbound.duplicates} already in the stream)")
    if inbound is not None:
        parts.append(
            f"stored {inbound.stored} remote event(s) ({inbound.duplicates} repeats, {inbound.own} of our own "
            f"skipped, {inbound.dropped} dropped)"
        )
    log("stopped: " + "; ".join(parts))
    return INTERRUPTED if got and got[0] == signal.SIGINT else OK


def main(argv: list[str] | None = None, prog: str = "waitbus-bridge-nats") -> int:
    """The console script (and `waitbus bridge nats`): returns the exit code."""
    log = _logger(prog)
    try:
        cfg = load(sys.argv[1:] if argv is None else argv, prog)
        if cfg.outbound is None and not cfg.inbound:
            raise ConfigError("nothing to do: outbound has no predicate and inbound is off")
        return asyncio.run(serve(cfg, log))
    except BridgeError as exc:
        log(str(exc))
        return exc.exit_code
    except ConfigError as exc:  # includes a bad secrets file (SecretsError)
        log(str(exc))
        return USAGE
    except KeyboardInterrupt:
        return INTERRUPTED
    except Exception:
        traceback.print_exc()
        log("stopped by the error above (a bug: please report it)")
        return 1

"""Connecting to NATS (bounded retries, then a clear error) and making sure the stream exists.

The first connection is tried `connect_attempts` times with stamina's backoff: a server
that is down, a wrong port or a cut network ends in Unreachable (exit 5), refused
credentials at once in AuthFailed (exit 2). Once connected, the client reconnects on
its own for as long as the bridge runs, so a server restart or a network cut only
pauses the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from waitbus_store import ConfigError

from ._config import BridgeConfig
from ._errors import AuthFailed, Unreachable

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

DUPLICATE_WINDOW_S = 600.0  # JetStream drops a repeated Nats-Msg-Id seen within this window
RECONNECT_WAIT_S = 1.0
Log = Callable[[str], None]


class _Retry(Exception):
    """One connection attempt failed in a way a later attempt may not."""


def tls_context(cfg: BridgeConfig) -> ssl.SSLContext | None:
    """A client TLS context from the --tls-* files; None to let the URL decide
    (a `tls://` URL gets the system's default verification)."""
    if not (cfg.tls_ca or cfg.tls_cert):
        return None
    try:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=cfg.tls_ca)
        if cfg.tls_cert:
            ctx.load_cert_chain(cfg.tls_cert, cfg.tls_key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS files: {exc}") from None
    return ctx


def _is_auth_error(exc: BaseException) -> bool:
    from nats.errors import AuthorizationError

    text = str(exc).lower()
    return isinstance(exc, AuthorizationError) or "authoriz" in text or "authenticat" in text


def _reason(exc: BaseException, seen: list[BaseException]) -> str:
    """The most telling cause: the client's own last error beats NoServersError."""
    cause = seen[-1] if seen else exc
    text = str(cause) or type(cause).__name__
    return text if len(text) < 300 else text[:300] + "..."


async def connect(cfg: BridgeConfig, auth: dict[str, Any], log: Log) -> Client:
    """A connected client, or AuthFailed / Unreachable / ConfigError."""
    import stamina
    from nats.aio.client import Client
    from nats.errors import Error as NatsError
    from stamina.instrumentation import RetryDetails

    seen: list[BaseException] = []
    connected = False

    async def on_error(exc: Exception) -> None:
        if not connected:
            seen.append(exc)
        elif not isinstance(exc, ConnectionError | OSError):  # disconnects are logged below
            log(f"NATS error: {exc}")

    async def on_disconnected() -> None:
        if connected:
            log("disconnected from NATS; reconnecting (nothing is lost: the log and the stream keep it)")

    async def on_reconnected() -> None:
        log(f"reconnected to {nc.connected_url.geturl() if nc.connected_url else 'NATS'}")

    def on_retry(details: RetryDetails) -> None:
        log(f"connection attempt {details.retry_num} failed ({details.caused_by}); retrying in {details.wait_for:.1f}s")

    # stamina's default hook logs through an unconfigured logging module: say it our way.
    stamina.instrumentation.set_on_retry_hooks([on_retry])
    tls = tls_context(cfg)
    options: dict[str, Any] = {
        "servers": list(cfg.urls),
        "name": f"waitbus-bridge-nats@{cfg.host}/{cfg.bus_id}",
        "connect_timeout": cfg.connect_timeout,
        # One pass over the servers per attempt: stamina owns the retries.
        "allow_reconnect": False,
        "max_reconnect_attempts": 1,
        "reconnect_time_wait": 0.1,
        "error_cb": on_error,
        "disconnected_cb": on_disconnected,
        "reconnected_cb": on_reconnected,
        **auth,
    }
    if tls is not None:
        options["tls"] = tls
    if cfg.tls_hostname:
        options["tls_hostname"] = cfg.tls_hostname
    # A whole attempt is bounded too: a server that accepts TCP but never speaks.
    budget = cfg.connect_timeout * (2 * len(cfg.urls) + 1) + 1.0
    nc = Client()
    try:
        async for attempt in stamina.retry_context(
            on=_Retry, attempts=cfg.connect_attempts, timeout=None, wait_initial=0.2, wait_max=5.0, wait_jitter=0.2
        ):
            with attempt:
                seen.clear()
                nc = Client()
                try:
                    await asyncio.wait_for(nc.connect(**options), budget)
                except ImportError as exc:  # a .creds file without nkeys installed
                    raise ConfigError(
                        f"a creds file needs the nkeys package: pip install 'waitbus-bridge-nats[creds]' ({exc})"
                    ) from None
                except (NatsError, OSError, TimeoutError) as exc:
                    await _discard(nc)
                    if _is_auth_error(exc) or any(_is_auth_error(e) for e in seen):
                        raise AuthFailed(
                            f"the NATS server at {', '.join(cfg.urls)} refused the credentials "
                            "(check nats-user/nats-password, nats-token or nats-creds in the secrets file)"
                        ) from None
                    raise _Retry(_reason(exc, seen)) from None
    except _Retry as exc:
        raise Unreachable(
            f"cannot reach NATS at {', '.join(cfg.urls)}: {exc} (gave up after {cfg.connect_attempts} attempts)"
        ) from None
    connected = True
    # From here on the client itself reconnects, forever, with a steady back-off.
    nc.options.update(allow_reconnect=True, max_reconnect_attempts=-1, reconnect_time_wait=RECONNECT_WAIT_S)
    return nc


async def _discard(nc: Client) -> None:
    with contextlib.suppress(Exception):  # a half-open client may fail to close; it holds nothing
        await nc.close()


async def ensure_stream(js: JetStreamContext, cfg: BridgeConfig, log: Log) -> None:
    """Use the stream if it exists (a team may create it with its own limits), else
    create it: file storage, limits retention, `max_age`, a 10 minute duplicate window."""
    from nats.errors import NoRespondersError
    from nats.errors import TimeoutError as NatsTimeout
    from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
    from nats.js.errors import APIError, NotFoundError, ServiceUnavailableError

    wanted = f"{cfg.subject_prefix}.>"
    try:
        try:
            info = await js.stream_info(cfg.stream)
        except NotFoundError:
            config = StreamConfig(
                name=cfg.stream,
                subjects=[wanted],
                storage=StorageType.FILE,
                retention=RetentionPolicy.LIMITS,
                discard=DiscardPolicy.OLD,
                max_age=cfg.max_age_s,
                duplicate_window=DUPLICATE_WINDOW_S,
            )
            try:
                info = await js.add_stream(config)
                log(f"created stream {cfg.stream} ({wanted}, max age {cfg.max_age_s:g}s)")
            except APIError:  # another bridge created it first
                info = await js.stream_info(cfg.stream)
    except (NoRespondersError, ServiceUnavailableError, NatsTimeout) as exc:
        raise ConfigError(
            f"no JetStream answers at {', '.join(cfg.urls)} ({type(exc).__name__}): run nats-server with "
            "JetStream enabled (-js, or jetstream {} in its config) and let this user use it"
        ) from None
    except APIError as exc:
        raise ConfigError(f"cannot use or create stream {cfg.stream}: {exc}") from None
    subjects = list(info.config.subjects or [])
    if cfg.outbound is not None and wanted not in subjects and ">" not in subjects:
        raise ConfigError(
            f"stream {cfg.stream} takes {subjects}, not {wanted}: pick another --stream or --subject-prefix"
        )

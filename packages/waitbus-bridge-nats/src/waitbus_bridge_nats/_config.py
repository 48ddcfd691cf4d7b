"""The bridge's settings: command-line flags over an optional TOML file (`--config`),
over defaults. The file's keys are the long flags with `_` for `-`."""

from __future__ import annotations

import argparse
import re
import socket
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from waitbus_store import ConfigError
from waitbus_wire import PredicateError
from waitbus_wire import parse_duration as wire_duration

from ._predicate import OutboundFilter, build_filter

_SUBJECT_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]+$")
_CONSUMER_UNSAFE_RE = re.compile(r"[^A-Za-z0-9_-]")

DEFAULTS: dict[str, Any] = {
    "url": [],
    "host": None,
    "stream": "WAITBUS",
    "subject_prefix": "waitbus",
    "consumer": None,
    "match": [],
    "source": None,
    "first_of": [],
    "all": False,
    "start": None,
    "drain": False,
    "inbound": True,
    "inbound_subject": None,
    "inbound_start": "new",
    "tls_ca": None,
    "tls_cert": None,
    "tls_key": None,
    "tls_hostname": None,
    "connect_attempts": 5,
    "connect_timeout": 2.0,
    "max_age": "7d",
}
_LISTS = {"url", "match", "first_of"}
_BOOLS = {"all", "drain", "inbound"}
_INTS = {"connect_attempts"}
_FLOATS = {"connect_timeout"}


@dataclass(frozen=True)
class BridgeConfig:
    """Everything a bridge run needs (credentials excepted: they come from the secrets file)."""

    urls: tuple[str, ...]
    host: str  # a label on this bus's events elsewhere; the bus is named by bus_id
    bus_id: str = ""  # this bus's identity (waitbus_store.bus_id), set by for_bus()
    stream: str = "WAITBUS"
    subject_prefix: str = "waitbus"
    consumer: str = ""
    outbound: OutboundFilter | None = None
    start: str = "now"  # where a first-ever outbound run starts: "now" or "start" of the log
    drain: bool = False
    inbound: bool = True
    inbound_subject: str = ""
    inbound_start: str = "new"  # a new durable consumer: "new" messages only, or "all" in the stream
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_hostname: str | None = None
    connect_attempts: int = 5
    connect_timeout: float = 2.0
    max_age_s: float = 7 * 86400.0

    def for_bus(self, bus_id: str) -> BridgeConfig:
        """This configuration for the bus with this identity (the default consumer is named by it)."""
        return replace(self, bus_id=bus_id, consumer=self.consumer or consumer_name(bus_id))

    @property
    def bookmark(self) -> str:
        """The outbound cursor's name in the local log's bookmarks table."""
        return f"bridge-nats:{self.stream}"


def parse_duration(text: str | float | int) -> float:
    """A TOML number of seconds, or text in the one duration grammar (`7d`, `1h30m`)."""
    if isinstance(text, int | float) and not isinstance(text, bool):
        return float(text)
    try:
        return wire_duration(str(text))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def default_host() -> str:
    return socket.gethostname() or "localhost"


def consumer_name(bus_id: str) -> str:
    """The durable consumer of one bus: `waitbus-<bus id>` (host names repeat; the id
    does not), with characters NATS does not allow in names as `_`."""
    return "waitbus-" + _CONSUMER_UNSAFE_RE.sub("_", bus_id)


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="Carry events between this machine's waitbus and a NATS JetStream stream. "
        "Outbound (only with a predicate: nothing leaves by default) publishes matching local events "
        "as <prefix>.<source>.<event_type>; inbound stores other machines' events here. "
        "Credentials come from the secrets file (nats-user + nats-password, nats-token or nats-creds). "
        "Exit codes: 0 stopped or drained, 2 bad configuration or credentials refused, "
        "3 a bridge of this bus is already connected, 4 local log unusable, 5 NATS unreachable. "
        "See docs/bridge.md.",
    )
    add = p.add_argument
    add("--config", metavar="FILE", help="TOML file with the same keys as the long flags (flags win)")
    add("--url", action="append", metavar="URL", help="NATS server, nats://host:4222 or tls://...; repeatable")
    add("--host", metavar="NAME", help="a label for this bus on other machines' events (default: the host name)")
    add("--stream", metavar="NAME", help="JetStream stream (default WAITBUS; created if missing)")
    add("--subject-prefix", metavar="TOKEN", help="first subject token (default waitbus)")
    add("--consumer", metavar="NAME", help="durable consumer name (default waitbus-<bus id>)")
    out = p.add_argument_group("outbound: which local events leave (nothing without one of these)")
    out.add_argument("--match", action="append", metavar="KEY=JSON", help="repeatable spec, as for `waitbus wait`")
    out.add_argument("--source", metavar="NAME", help="only events from this source")
    out.add_argument("--first-of", action="append", metavar="SOURCE:KEY=JSON", help="repeatable alternative (OR)")
    out.add_argument("--all", action="store_true", default=None, help="every local event leaves")
    out.add_argument(
        "--start",
        choices=("now", "start"),
        help="first run only (no cursor stored yet): publish from now on, or the whole log "
        "(default: now; with --drain: start)",
    )
    out.add_argument(
        "--drain", action="store_true", default=None, help="publish what is pending, then exit 0 (no hub needed)"
    )
    inbound = p.add_argument_group("inbound: other machines' events stored here")
    inbound.add_argument(
        "--no-inbound", dest="inbound", action="store_false", default=None, help="publish only; store nothing"
    )
    inbound.add_argument("--inbound-subject", metavar="SUBJECT", help="consumer filter (default <prefix>.>)")
    inbound.add_argument(
        "--inbound-start", choices=("new", "all"), help="a new consumer gets only new messages (default) or all"
    )
    conn = p.add_argument_group("connection")
    conn.add_argument("--tls-ca", metavar="FILE", help="CA bundle to verify the server")
    conn.add_argument("--tls-cert", metavar="FILE", help="client certificate (mutual TLS)")
    conn.add_argument("--tls-key", metavar="FILE", help="client key (mutual TLS)")
    conn.add_argument("--tls-hostname", metavar="NAME", help="server name to verify, when the URL has an IP")
    conn.add_argument("--connect-attempts", type=int, metavar="N", help="initial connection attempts (default 5)")
    conn.add_argument("--connect-timeout", type=float, metavar="SECONDS", help="per attempt (default 2)")
    conn.add_argument("--max-age", metavar="DURATION", help="age limit of a stream the bridge creates (default 7d)")
    return p


def _load_file(path: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(Path(path).read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key not in DEFAULTS:
            raise ConfigError(f"{path}: unknown key {key!r}; known: {', '.join(sorted(DEFAULTS))}")
        if key in _LISTS:
            if isinstance(value, str):
                value = [value]  # noqa: PLW2901 - one string means a list of one
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        elif key in _BOOLS:
            ok = isinstance(value, bool)
        elif key in _INTS:
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif key in _FLOATS:
            ok = isinstance(value, int | float) and not isinstance(value, bool)
        else:
            ok = isinstance(value, str) or (key == "max_age" and isinstance(value, int | float))
        if not ok:
            raise ConfigError(f"{path}: {key} has the wrong type ({type(value).__name__})")
        out[key] = value
    return out


def _settings(ns: argparse.Namespace) -> dict[str, Any]:
    """Defaults, then the file, then the flags that were given."""
    merged = dict(DEFAULTS)
    if ns.config:
        merged.update(_load_file(ns.config))
    for key in DEFAULTS:
        value = getattr(ns, key, None)
        if value is not None:
            merged[key] = value
    return merged


def _check_token(what: str, value: str) -> str:
    if not _SUBJECT_TOKEN_RE.match(value):
        raise ConfigError(f"bad {what} {value!r}: use letters, digits, '-' and '_' only")
    return value


def load(argv: list[str], prog: str = "waitbus-bridge-nats") -> BridgeConfig:
    """The configuration for this command line. argparse exits 2 on a bad flag;
    everything else raises ConfigError with the fix in the message."""
    s = _settings(parser(prog).parse_args(argv))
    if not s["url"]:
        raise ConfigError("no NATS server: pass --url nats://HOST:4222 (or url = ... in the config file)")
    try:
        outbound = build_filter(match=s["match"], source=s["source"], first_of=s["first_of"], everything=s["all"])
    except (PredicateError, ValueError) as exc:
        raise ConfigError(str(exc)) from None
    if s["drain"] and outbound is None:
        raise ConfigError("--drain publishes what matches a predicate: give --match, --source, --first-of or --all")
    host = s["host"] or default_host()
    if not host.strip() or any(c.isspace() for c in host) or len(host) > 128:
        raise ConfigError(f"bad --host {host!r}: 1-128 characters, no spaces")
    prefix = _check_token("--subject-prefix", s["subject_prefix"])
    if (s["tls_cert"] is None) != (s["tls_key"] is None):
        raise ConfigError("mutual TLS needs both --tls-cert and --tls-key")
    if s["start"] not in (None, "now", "start") or s["inbound_start"] not in ("new", "all"):
        raise ConfigError("start must be now or start, and inbound_start new or all")
    if s["connect_attempts"] < 1 or s["connect_timeout"] <= 0:
        raise ConfigError("--connect-attempts must be >= 1 and --connect-timeout > 0")
    return BridgeConfig(
        urls=tuple(s["url"]),
        host=host,
        stream=_check_token("--stream", s["stream"]),
        subject_prefix=prefix,
        consumer=_check_token("--consumer", s["consumer"]) if s["consumer"] else "",
        outbound=outbound,
        start=s["start"] or ("start" if s["drain"] else "now"),
        drain=bool(s["drain"]),
        inbound=bool(s["inbound"]) and not s["drain"],
        inbound_subject=s["inbound_subject"] or f"{prefix}.>",
        inbound_start=s["inbound_start"],
        tls_ca=s["tls_ca"],
        tls_cert=s["tls_cert"],
        tls_key=s["tls_key"],
        tls_hostname=s["tls_hostname"],
        connect_attempts=s["connect_attempts"],
        connect_timeout=float(s["connect_timeout"]),
        max_age_s=parse_duration(s["max_age"]),
    )

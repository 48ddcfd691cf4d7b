"""One connected client: its filter, its cursor and its outbound queue.

Frames are queued as whole `bytes` objects and written with one sendmsg (gather) per
wake, so nothing is joined or copied per subscriber; the offset into the head frame
tells whether the stream sits at a frame boundary (needed for a clean eviction).
"""

from __future__ import annotations

import socket
import time
from collections import deque
from collections.abc import Iterable, Sequence

from waitbus_store import peer_pid
from waitbus_wire import (
    MAX_STATS_CLIENTS,
    MAX_WHERE_COST,
    Predicate,
    PredicateError,
    Subscribe,
    SubscriberInfo,
    parse_predicate,
    where_cost,
)

from ._errors import HubError
from ._rows import Prepared

IOV_MAX = 512

HANDSHAKE, REPLAY, LIVE, CLOSING = "handshake", "replay", "live", "closing"


# Keys a row holds as text columns: a test on one is a set lookup, with no decode of the
# fields and no generic JSON walk (the SDK's `subscribe(source=...)` is such a `where`).
_COLUMNS = frozenset({"event_id", "event_type", "source", "owner", "repo", "delivery_id", "summary"})


class _Alternative:
    """One predicate of a `where`, split into column tests and the rest. A column is a
    string or null, so JSON equality with a string or null value is set membership,
    and a value of another type never matches it."""

    __slots__ = ("columns", "rest")

    def __init__(self, predicate: Predicate) -> None:
        columns: list[tuple[str, frozenset[str | None]]] = []
        rest = []
        for test in predicate.tests:
            if test.key in _COLUMNS:
                columns.append((test.key, frozenset(v for v in test.values if v is None or isinstance(v, str))))
            else:
                rest.append(test)
        self.columns = tuple(columns)
        self.rest = Predicate(tuple(rest)) if rest else None

    def matches(self, row: Prepared) -> bool:
        for key, values in self.columns:
            if getattr(row, key) not in values:
                return False
        if self.rest is None:
            return True
        view = row.view()
        return view is not None and self.rest.matches(view)


class WhereTooExpensive(HubError, ValueError):
    """A `where` the hub refuses with subscribe_rejected; the message says why."""


class Subscriber:
    __slots__ = (
        "all_repos",
        "alternatives",
        "connected_at",
        "cost",
        "cursor",
        "deadline",
        "event_types",
        "fd",
        "handshake",
        "ignored_bytes",
        "offset",
        "op",
        "owners",
        "queue",
        "queued_bytes",
        "repos",
        "sock",
        "state",
        "want_write",
        "where",
    )

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.state = HANDSHAKE
        self.cursor = 0
        self.queue: deque[bytes] = deque()
        self.queued_bytes = 0
        self.offset = 0
        self.want_write = False
        self.owners: frozenset[str] = frozenset()
        self.repos: frozenset[tuple[str, str]] = frozenset()
        self.all_repos = True
        self.event_types: frozenset[str] | None = None
        self.where: tuple[Predicate, ...] | None = None
        self.alternatives: tuple[_Alternative, ...] | None = None  # `where`, as wants() tests it
        self.cost = 0  # where_cost of `where`: the fan-out serves cheaper filters first
        self.handshake = bytearray()
        self.ignored_bytes = 0  # read after the subscribe frame: a client has nothing to say then
        self.deadline = deadline
        self.op: str | None = None
        self.connected_at = time.monotonic()

    def configure(self, sub: Subscribe) -> None:
        """Adopt a validated subscribe frame; PredicateError if `where` is bad,
        WhereTooExpensive if matching it could slow every other subscriber."""
        owners, repos = set(), set()
        for f in sub.filters:
            if f == "*":
                self.all_repos = True
                break
            owner, _, repo = f.partition("/")
            if repo == "*":
                owners.add(owner)
            else:
                repos.add((owner, repo))
        else:
            self.all_repos = False
        self.owners, self.repos = frozenset(owners), frozenset(repos)
        self.event_types = frozenset(sub.event_types) if sub.event_types is not None else None
        if sub.where is not None:
            self.where = tuple(parse_predicate(specs) for specs in sub.where)
            self.alternatives = tuple(_Alternative(p) for p in self.where)
            self.cost = cost = where_cost(self.where)
            if cost > MAX_WHERE_COST:
                raise WhereTooExpensive(
                    f"matching this where costs up to {cost} units per event and the hub takes at most "
                    f"{MAX_WHERE_COST}: use fewer or smaller values, or send no where and filter on the client"
                )
        self.op = sub.op

    def wants(self, row: Prepared) -> bool:
        if self.event_types is not None and row.event_type not in self.event_types:
            return False
        if not self.all_repos and row.owner not in self.owners and (row.owner, row.repo) not in self.repos:
            return False
        if self.alternatives is not None:
            return any(a.matches(row) for a in self.alternatives)
        return True

    def enqueue(self, frame: bytes) -> None:
        self.queue.append(frame)
        self.queued_bytes += len(frame)

    def at_boundary(self) -> bool:
        return self.offset == 0

    def flush(self) -> bool:
        """Write as much as the kernel takes. True when the queue is empty.
        Raises OSError when the peer is gone."""
        queue = self.queue
        while queue:
            if self.offset:
                bufs: Sequence[bytes | memoryview] = [memoryview(queue[0])[self.offset :], *_head(queue, 1)]
            else:
                bufs = _head(queue, 0)
            try:
                sent = self.sock.sendmsg(bufs)
            except BlockingIOError:
                return False
            self.queued_bytes -= sent
            sent += self.offset
            while queue and sent >= len(queue[0]):
                sent -= len(queue.popleft())
            self.offset = sent
            if sent and queue:
                return False  # partial write: the kernel buffer is full
        return True


def client_stats(subs: Iterable[Subscriber], head_seq: int) -> list[SubscriberInfo]:
    """hub_stats' `clients`: who is connected and how far behind, the most lagging first."""
    now = time.monotonic()
    ranked = sorted(
        (s for s in subs if s.state in (LIVE, REPLAY)),
        key=lambda s: (s.queued_bytes, head_seq - s.cursor),
        reverse=True,
    )
    return [
        SubscriberInfo(
            pid=peer_pid(s.sock),
            state=s.state,
            connected_sec=round(now - s.connected_at, 3),
            queued_bytes=s.queued_bytes,
            behind_rows=max(0, head_seq - s.cursor) if s.state == REPLAY else 0,
        )
        for s in ranked[:MAX_STATS_CLIENTS]
    ]


def _head(queue: deque[bytes], skip: int) -> list[bytes]:
    out = []
    for i, frame in enumerate(queue):
        if i < skip:
            continue
        out.append(frame)
        if len(out) >= IOV_MAX - 1:
            break
    return out


__all__ = [
    "CLOSING",
    "HANDSHAKE",
    "LIVE",
    "REPLAY",
    "PredicateError",
    "Subscriber",
    "WhereTooExpensive",
    "client_stats",
]

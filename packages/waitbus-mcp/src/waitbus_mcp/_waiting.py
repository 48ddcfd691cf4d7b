"""Bounded, cancellable waits on the bus, on asyncio.

Every wait rides `waitbus.asubscribe`: the server's task sleeps on the hub socket, so a
wait costs no CPU and no thread, and a client's cancellation (or our own timeout) cancels
the task at once; closing the stream closes the hub connection with it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from . import _store

if TYPE_CHECKING:
    from waitbus_wire import Clause, EventFrame

GATHER_S = 0.1  # after the first event of a tail, how long to collect the ones arriving with it


def json_literal(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def stream(
    match: Sequence[str] | None,
    *,
    source: str | None = None,
    to: str | None = None,
    all_of: Sequence[Clause] | None = None,
    first_of: Sequence[Clause] | None = None,
    since: str | float | None = None,
) -> AsyncGenerator[EventFrame, None]:
    from waitbus import asubscribe

    # asubscribe is an async generator function (annotated as an iterator): it has aclose().
    return cast(
        "AsyncGenerator[EventFrame, None]",
        asubscribe(list(match or []), source=source, to=to, all_of=all_of, first_of=first_of, since=since),
    )


async def first_match(frames: AsyncGenerator[EventFrame, None], *, timeout: float) -> EventFrame | None:
    """The first event of `frames` (see stream()), or None at `timeout`; closes the stream.
    For an all-of stream that is the event completing the set."""
    try:
        async with asyncio.timeout(timeout):
            async for frame in frames:
                return frame
    except TimeoutError:
        return None
    finally:
        await frames.aclose()
    return None  # pragma: no cover - the stream never ends on its own


@dataclass
class Tail:
    events: list[EventFrame]
    next_cursor: str
    timed_out: bool
    more: bool  # the caller should call again at once: there may be more after next_cursor


async def tail(
    match: Sequence[str],
    *,
    source: str | None,
    cursor: str | None,
    timeout: float,
    limit: int,
) -> Tail:
    """Events after `cursor` (None: after the newest stored one, i.e. from now on).

    First the log is read (no hub needed, so `timeout=0` is a plain read); if nothing
    after the cursor matches, wait on the hub for the first match, then gather whatever
    arrives with it for a moment. `next_cursor` is always safe to pass back: every event
    at or before it has been looked at.
    """
    from waitbus import Matcher

    matcher = Matcher(list(match), source=source)
    if cursor is None:
        start = await asyncio.to_thread(_store.head_id) or _store.ZERO_CURSOR
    else:
        scan = await asyncio.to_thread(_store.scan_after, cursor, matcher.offer, limit)
        start = scan.last_seen or cursor
        if scan.events or not scan.at_head:
            return Tail(scan.events, start, False, not scan.at_head)
    if timeout <= 0:
        return Tail([], start, True, False)
    events: list[EventFrame] = []
    frames = stream(match, source=source, since=start)
    try:
        try:
            async with asyncio.timeout(timeout):
                events.append(await anext(frames))
        except TimeoutError:
            return Tail([], start, True, False)
        try:
            async with asyncio.timeout(GATHER_S):
                while len(events) < limit:
                    events.append(await anext(frames))
        except TimeoutError:
            pass
    finally:
        await frames.aclose()
    return Tail(events, events[-1].event_id, False, len(events) >= limit)

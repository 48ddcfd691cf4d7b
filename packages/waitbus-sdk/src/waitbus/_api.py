"""The public consuming API: subscribe, asubscribe, wait_for, wait_event, request, respond."""

from __future__ import annotations

import time

from waitbus_wire import is_ulid, ulid_floor

from ._match import Matcher
from ._stream import Subscription, astream

TYPE_CHECKING = False  # not `from typing import ...`: see `waitbus wait`'s start-up
if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Sequence
    from typing import Any

    from waitbus_wire import Clause, EventFrame, EventView

Since = str | float | int | None


def _since(since: Since) -> str | None:
    """A ULID cursor as given, or a number of seconds to look back."""
    if since is None:
        return None
    if isinstance(since, str):
        if not is_ulid(since):
            raise ValueError(f"since must be an event id (ULID) or seconds to look back; got {since!r}")
        return since
    if isinstance(since, bool) or since < 0:
        raise ValueError(f"since seconds must be >= 0; got {since!r}")
    return ulid_floor(int((time.time() - float(since)) * 1000))


def subscribe(
    match: str | Sequence[str] | None = None,
    *,
    source: str | None = None,
    to: str | None = None,
    all_of: Sequence[Clause] | None = None,
    first_of: Sequence[Clause] | None = None,
    since: Since = None,
    cond: str | None = None,
    autostart: bool | None = None,
) -> Subscription:
    """Stream every matching event as it lands (iterate the result).

    `match` is one `key=json` spec or a list (AND across keys, OR within a key);
    `since` (an event id, or seconds) first replays stored events after it. The
    stream survives hub restarts with no gap and no duplicate. With `all_of`, the
    stream yields each event that completes a set; the next needs a fresh set.
    """
    matcher = Matcher(match, source=source, to=to, cond=cond, all_of=all_of, first_of=first_of)
    return Subscription(matcher, since=_since(since), autostart=autostart)


async def asubscribe(
    match: str | Sequence[str] | None = None,
    *,
    source: str | None = None,
    to: str | None = None,
    all_of: Sequence[Clause] | None = None,
    first_of: Sequence[Clause] | None = None,
    since: Since = None,
    cond: str | None = None,
    autostart: bool | None = None,
) -> AsyncIterator[EventFrame]:
    """The asyncio twin of subscribe(): `async for frame in asubscribe(...)`."""
    matcher = Matcher(match, source=source, to=to, cond=cond, all_of=all_of, first_of=first_of)
    async for frame in astream(matcher, since=_since(since), autostart=autostart):
        yield frame


def wait_for(
    match: str | Sequence[str] | None = None,
    *,
    source: str | None = None,
    to: str | None = None,
    all_of: Sequence[Clause] | None = None,
    first_of: Sequence[Clause] | None = None,
    timeout: float | None = None,
    since: Since = None,
    cond: str | None = None,
    autostart: bool | None = None,
) -> EventFrame | None:
    """Block until one matching event arrives; return it, or None at `timeout`.

    `all_of` clauses (`"source:key=json"` or lists of specs) must each be met by
    some event (sticky); `first_of` returns on the first event meeting any clause.
    The wait costs no CPU: it sleeps on the hub's socket.
    """
    matcher = Matcher(match, source=source, to=to, cond=cond, all_of=all_of, first_of=first_of)
    frame: EventFrame | None = _wait_once(matcher, since, autostart, timeout, views=False)
    return frame


def wait_event(
    match: str | Sequence[str] | None = None,
    *,
    source: str | None = None,
    to: str | None = None,
    all_of: Sequence[Clause] | None = None,
    first_of: Sequence[Clause] | None = None,
    timeout: float | None = None,
    since: Since = None,
    cond: str | None = None,
    autostart: bool | None = None,
    on_idle: Callable[[], object] | None = None,
) -> EventView | None:
    """wait_for() for a process that waits once and exits (`waitbus wait`): the same
    wait, but the event comes back as an EventView (EventFrame's attributes on a plain
    object) and msgspec is never imported, ~25 ms of a cold start.

    `on_idle` is called once, the first time the wait has nothing to read and at least
    50 ms left: the place to load what the caller needs after the match (`waitbus wait`
    imports its verdict there, `waitbus on` what starts the command), so that work is
    not between the event and the answer. A wait that matches at once never calls it."""
    matcher = Matcher(match, source=source, to=to, cond=cond, all_of=all_of, first_of=first_of)
    view: EventView | None = _wait_once(matcher, since, autostart, timeout, views=True, on_idle=on_idle)
    return view


def _wait_once(
    matcher: Matcher,
    since: Since,
    autostart: bool | None,
    timeout: float | None,
    *,
    views: bool,
    on_idle: Callable[[], object] | None = None,
) -> Any:
    with Subscription(matcher, since=_since(since), autostart=autostart, views=views, on_idle=on_idle) as sub:
        return sub._next(timeout)


def request(
    to: str, body: Any, *, sender: str, timeout: float | None = 30.0, thread: str | None = None
) -> EventFrame | None:
    """Send `body` to agent `to` and block for its reply (None at `timeout`)."""
    from ._agent import send_message  # waiters need no store connection; only agents that talk do

    sent = send_message(to, body, sender=sender, thread=thread)
    # Replaying from the request itself means a reply can never slip past us.
    return wait_for(sent.reply_match, source="agent", to=sender, since=sent.event_id, timeout=timeout)


def respond(msg: EventFrame, body: Any, *, sender: str | None = None) -> str:
    """Answer a request frame; `sender` defaults to the request's recipient.
    Returns the reply's event id."""
    f = msg.fields
    if "msg_correlation_id" not in f or "msg_from" not in f:
        raise ValueError("respond() needs an agent_message request frame (with msg_from and msg_correlation_id)")
    me = sender or f.get("msg_to")
    if not isinstance(me, str):
        raise ValueError("cannot tell who is responding: pass sender=")
    from ._agent import send_message

    reply_to = f["msg_correlation_id"]
    return send_message(f["msg_from"], body, sender=me, thread=f.get("msg_thread"), reply_to=reply_to).event_id

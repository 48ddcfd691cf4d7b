"""emit(): commit one event to the log, then ring the hub's doorbell.

The row is durable before anyone hears of it, and emitting needs no hub: if none is
running the ring goes nowhere and the hub catches up from the log when it starts.
One store connection and one doorbell socket are kept per process (re-made after a
fork), so a call costs a short SQLite transaction and one sendto, whose datagram
carries the committed row (waitbus_store.carry) so the hub need not read it back.
"""

from __future__ import annotations

import _socket  # not `socket`: its enum set-up is ~1 ms of a short producer's start
import _thread
import atexit
import os
from collections import namedtuple

from waitbus_store import DB_FILENAME, DOORBELL_NAME, PathError, Store, carry, check_private_dir, ensure_dirs
from waitbus_wire import check_label, check_name, encode_fields, encode_payload, is_text, one_line

from ._paths import dirs

# Short producers (`waitbus emit`, hooks, CI steps) pay every import: this module
# loads neither typing nor pathlib nor threading (~5 ms together).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NamedTuple

    from waitbus_store import Row

    class EmitResult(NamedTuple):
        event_id: str
        inserted: bool

else:
    EmitResult = namedtuple("EmitResult", ["event_id", "inserted"], module=__name__)
EmitResult.__doc__ = """What emit() did: the event's id and whether it was new (False: a delivery_id
already stored, whose original event_id is returned)."""


class _Producer:
    def __init__(self) -> None:
        self.lock = _thread.allocate_lock()
        self.pid = -1
        self.state = ""  # the state dir self.store was opened in
        self.origin = ""
        self.store: Store | None = None
        self.bell: _socket.socket | None = None
        self.safe_runtime = ""  # the runtime dir last found private: checked once
        self.doorbell = ""  # the doorbell in safe_runtime

    def store_for(self, state: str) -> Store:
        if self.store is None or self.pid != os.getpid() or self.state != state:
            # After fork the parent's handles must not be used: drop them unclosed.
            if self.pid == os.getpid():
                self.close()
            ensure_dirs(state, None)  # the log only: ringing a missing hub is a no-op
            db = os.path.join(state, DB_FILENAME)
            self.store = Store(db)
            self.pid, self.state = os.getpid(), state
            self.origin = os.path.realpath(db)  # names our log to the hub (waitbus_store.carry)
            self.bell = None
        return self.store

    def close(self) -> None:
        if self.store is not None:
            self.store.close()
        if self.bell is not None:
            self.bell.close()
        self.store, self.bell = None, None

    def ring(self, runtime: str, datagram: bytes) -> None:
        if runtime != self.safe_runtime:
            # Ring only into a private dir of ours: a doorbell another user planted would
            # learn when we emit. The event is committed either way; the hub replays it.
            try:
                check_private_dir(runtime)
            except (PathError, OSError):
                return
            self.safe_runtime = runtime
            self.doorbell = os.path.join(runtime, DOORBELL_NAME)
        if self.bell is None:
            self.bell = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
            self.bell.setblocking(False)
        try:
            self.bell.sendto(datagram, self.doorbell)
        except OSError:
            # No hub (ENOENT/ECONNREFUSED) or a full queue (EAGAIN: the hub drains a
            # full queue and then reads the log, so it finds our row). It is committed.
            pass


_producer = _Producer()


def _close_at_exit() -> None:
    """Close the kept-open handles at exit (else interpreter shutdown warns about them),
    but never wait: a daemon thread may still be inside emit() on a locked log, and
    closing under it would block exit for the whole busy timeout."""
    if _producer.pid == os.getpid() and _producer.lock.acquire(blocking=False):
        try:
            _producer.close()
        finally:
            _producer.lock.release()


atexit.register(_close_at_exit)


def emit(
    source: str,
    event_type: str,
    *,
    fields: dict[str, Any] | None = None,
    payload: Any = None,
    delivery_id: str | None = None,
    owner: str | None = None,
    repo: str | None = None,
    summary: str | None = None,
) -> EmitResult:
    """Write one event to the bus and return its id.

    `fields` (a JSON object, at most 48 KiB) is what subscribers see and match on;
    `payload` (bytes, str or JSON, at most 4 MiB) is stored raw and fetched by id.
    `delivery_id` is the dedup key within `source`: emitting it again is a no-op that
    returns the original event_id with `inserted=False`; without one, a fresh key
    is used. Raises waitbus_wire.EventError for invalid input,
    waitbus_store.StoreError if the log cannot be written (nothing is: the transaction
    is rolled back) and waitbus_store.PathError if the state dir is unusable (a broken
    runtime dir only means no hub hears of it now; the hub replays it later).
    """
    check_name("source", source)
    check_name("event_type", event_type)
    fields_json = encode_fields(source, event_type, fields)
    raw = encode_payload(payload)
    check_label("owner", owner)
    check_label("repo", repo)
    if delivery_id is not None and (
        not isinstance(delivery_id, str) or not 0 < len(delivery_id) <= 256 or not is_text(delivery_id)
    ):
        from waitbus_wire import EventError

        raise EventError(f"delivery_id must be a UTF-8 string of 1..256 chars; got {delivery_id!r}")
    text = one_line(summary) if summary else f"{source} {event_type}"
    state, runtime = dirs()
    with _producer.lock:
        result = _producer.store_for(state).insert(
            source=source,
            event_type=event_type,
            fields=fields_json,
            payload=raw,
            delivery_id=delivery_id,
            owner=owner,
            repo=repo,
            summary=text,
        )
        if result.row is not None:
            # The doorbell carries the committed row: the hub's live path needs no read.
            _producer.ring(runtime, carry(_producer.origin, result.row))
    return EmitResult(result.event_id, result.inserted)


def fetch_payload(event_id: str) -> bytes | None:
    """The raw payload stored with an event (None if it has none or is unknown)."""
    found = fetch_stored(event_id)
    return found[1] if found else None


def fetch_stored(event_id: str) -> tuple[Row, bytes | None] | None:
    """An event's row and raw payload, read through this process's kept connection."""
    with _producer.lock:
        return _producer.store_for(dirs()[0]).get(event_id)

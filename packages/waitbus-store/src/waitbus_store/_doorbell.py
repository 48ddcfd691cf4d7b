"""The doorbell's datagram: a committed row, carried to the hub so that its live path
needs no read of the log.

A producer sends it right after its commit. The hub fans the row out at once when it
comes from the hub's own log and its seq is the next after the hub's head; anything
else (a gap, a bare ring, a datagram it cannot read, another log's row) sends it to
the log, which stays the truth. A row too big to carry goes as a bare ring.

Standard-library json on both sides: a short producer (`waitbus emit`, a hook) must
not pay msgspec's import for its one ring.
"""

from __future__ import annotations

import json
from functools import cache

TYPE_CHECKING = False  # not `from typing import ...`: producers' start-up pays every import
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Any

    from ._row import Row

RING = b"\x01"  # "read the log": all a datagram said before rows were carried
_ROW = b"\x02"
# Bigger rows ring bare. Small datagrams also mean a full socket buffer holds many,
# so the hub can tell when one may have been dropped (see waitbus_hub's drain).
MAX_CARRY = 4096
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def carry(db: str, row: Sequence[object]) -> bytes:
    """The datagram for `row` (a Row, or its values in Row's order) just committed to
    the log at path `db`. Its fields (JSON text already) travel after a NUL unparsed."""
    data = b"".join((_ROW, _dumps([db, *row[:-1]]).encode(), b"\x00", str(row[-1]).encode()))
    return data if len(data) <= MAX_CARRY else RING


class _Reader:
    """The hub's side, made once on first use (`_reader`): `carry` runs in every producer, which must
    not load msgspec or typing. A datagram is decoded by one typed C call, so a
    malformed head fails here and never reaches a subscriber."""

    def __init__(self) -> None:
        import msgspec

        from ._row import Row

        head = tuple[str, int, str, str, str, str | None, str | None, int, str, str]
        self.decode: Callable[[bytes], tuple[Any, ...]] = msgspec.json.Decoder(head).decode
        self.row = Row


@cache
def _reader() -> _Reader:
    return _Reader()


def carried(db: str, data: bytes) -> Row | None:
    """The row a datagram carries from the log at `db`; None means read the log (a
    bare ring, another log's row, or something unreadable)."""
    if not data.startswith(_ROW) or len(data) > MAX_CARRY:
        return None
    head, sep, fields = data[1:].partition(b"\x00")  # JSON text never holds a raw NUL
    if not sep:
        return None
    reader = _reader()
    try:
        values = reader.decode(head)
        text = fields.decode()
    except ValueError:  # msgspec's DecodeError and ValidationError, UnicodeDecodeError
        return None
    if values[0] != db:
        return None
    return reader.row._make((*values[1:], text))

"""ULIDs: 48-bit millisecond time + 80 random bits, Crockford base32, 26 chars.

`next_ulid` is monotonic: given the previous id it never returns one that sorts at or
before it, even when the clock stalls or steps back. The store calls it inside its
write transaction with the newest stored id, so event ids sort in commit order across
every process that writes the log.
"""

from __future__ import annotations

import os
import re
import time

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
ULID_RE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}\Z")  # \Z: "$" would accept a trailing newline
_MAX_RANDOM = (1 << 80) - 1
_MAX_TIME = (1 << 48) - 1
# Every emit makes one id and reads the time of the newest: both run in C where they
# can. Ten bits (two characters) per table lookup; int() reads base 32 once the
# Crockford letters are mapped onto its 0-9A-V digits.
_PAIRS = [a + b for a in ALPHABET for b in ALPHABET]
_TO_INT_DIGITS = str.maketrans(ALPHABET, "0123456789ABCDEFGHIJKLMNOPQRSTUV")


def _encode(value: int) -> str:
    pairs = _PAIRS
    return "".join([pairs[(value >> shift) & 1023] for shift in range(120, -1, -10)])


def is_ulid(text: str) -> bool:
    return bool(ULID_RE.match(text)) and text[0] <= "7"


def decode_ulid(text: str) -> int:
    """The 128-bit integer of a ULID; ValueError on anything that is not one."""
    if not isinstance(text, str) or not is_ulid(text):
        raise ValueError(f"not a ULID (26 Crockford base32 chars): {text!r}")
    return int(text.translate(_TO_INT_DIGITS), 32)


def ulid_time_ms(text: str) -> int:
    """Milliseconds since the epoch encoded in a ULID."""
    return decode_ulid(text) >> 80


def ulid_from_parts(time_ms: int, randomness: int) -> str:
    if not 0 <= time_ms <= _MAX_TIME or not 0 <= randomness <= _MAX_RANDOM:
        raise ValueError("ULID time or randomness out of range")
    return _encode((time_ms << 80) | randomness)


def ulid_floor(time_ms: int) -> str:
    """The smallest ULID of a millisecond: a cursor meaning 'from this time on'."""
    return ulid_from_parts(max(0, time_ms), 0)


def next_ulid(previous: str | None = None, now_ms: int | None = None) -> str:
    """A fresh ULID that sorts strictly after `previous` (if given)."""
    ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    if previous is not None:
        prev = decode_ulid(previous)
        if ms <= prev >> 80:
            # Same millisecond (or the clock went back): bump the previous id.
            # The random part has 80 bits; overflowing it rolls into the time.
            return _encode(prev + 1 + (int.from_bytes(os.urandom(2), "big") & 0xFF))
    return ulid_from_parts(ms, int.from_bytes(os.urandom(10), "big"))

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
_DECODE = {c: i for i, c in enumerate(ALPHABET)}
_MAX_RANDOM = (1 << 80) - 1
_MAX_TIME = (1 << 48) - 1


def _encode(value: int) -> str:
    chars = []
    for _ in range(26):
        chars.append(ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def is_ulid(text: str) -> bool:
    return bool(ULID_RE.match(text)) and text[0] <= "7"


def decode_ulid(text: str) -> int:
    """The 128-bit integer of a ULID; ValueError on anything that is not one."""
    if not isinstance(text, str) or not is_ulid(text):
        raise ValueError(f"not a ULID (26 Crockford base32 chars): {text!r}")
    value = 0
    for ch in text:
        value = (value << 5) | _DECODE[ch]
    return value


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
        prev_ms = prev >> 80
        if ms <= prev_ms:
            # Same millisecond (or the clock went back): bump the previous id.
            # The random part has 80 bits; overflowing it rolls into the time.
            return _encode(prev + 1 + (int.from_bytes(os.urandom(2), "big") & 0xFF))
    return ulid_from_parts(ms, int.from_bytes(os.urandom(10), "big"))

"""Human units on the command line: durations (`30s`, `10m`, `1h`, `30d`) and sizes (`500MB`)."""

from __future__ import annotations

import re

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
# Beyond these a duration overflows nanosecond arithmetic (and SQLite's INTEGER) and a
# size has no meaning; refusing them keeps `inf` and OverflowError out of every caller.
MAX_DURATION_S = 100 * 365 * 86400
MAX_SIZE_BYTES = 2**62


def parse_duration(text: str) -> float:
    """Seconds in `text`; a bare number means seconds. ValueError says the format."""
    m = _DURATION_RE.match(text)
    if not m:
        raise ValueError(f"bad duration {text!r}: use a number with s, m, h, d or w, e.g. 30s, 10m, 1h, 30d")
    seconds = float(m.group(1)) * _DURATION_UNITS[m.group(2) or "s"]
    if not seconds <= MAX_DURATION_S:
        raise ValueError(f"bad duration {text!r}: the most is 100 years ({MAX_DURATION_S}s)")
    return seconds


def parse_size(text: str) -> int:
    """Bytes in `text` (`500MB`, `2GiB`, `1048576`). ValueError says the format."""
    m = _SIZE_RE.match(text)
    if not m:
        raise ValueError(f"bad size {text!r}: use a number with B, KB, MB, GB (or KiB, MiB, GiB), e.g. 500MB")
    unit = m.group(2).upper()
    binary = "I" in unit
    letter = unit.replace("IB", "").replace("I", "").replace("B", "")
    base = 1024 ** ("KMGT".index(letter) + 1) if binary and letter else _SIZE_UNITS[letter]
    size = float(m.group(1)) * base
    if not size <= MAX_SIZE_BYTES:
        raise ValueError(f"bad size {text!r}: the most is {MAX_SIZE_BYTES} bytes")
    return int(size)

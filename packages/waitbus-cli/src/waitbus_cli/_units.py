"""Sizes on the command line (`500MB`, `2GiB`); durations are `waitbus_wire.parse_duration`."""

from __future__ import annotations

import re

_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B?)\s*$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "B": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
# Beyond this a size has no meaning; refusing it keeps `inf` and OverflowError out of every caller.
MAX_SIZE_BYTES = 2**62


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

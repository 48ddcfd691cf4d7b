"""The one duration grammar every waitbus flag, config key and tool argument takes.

A number of seconds (`90`, `0.5`), or one or more number+unit parts (`200ms`, `30s`,
`10m`, `1.5h`, `1h30m`, `2d`, `2w`), units case-insensitive, spaces allowed around parts.
"""

from __future__ import annotations

import re

MAX_DURATION_S = 100 * 365 * 86400  # beyond this, nanosecond arithmetic (and SQLite's INTEGER) overflows
_NUMBER = r"(\d+(?:\.\d*)?|\.\d+)"
_BARE_RE = re.compile(rf"\s*{_NUMBER}\s*")
_PART = rf"{_NUMBER}\s*(ms|s|m|h|d|w)"
_PART_RE = re.compile(_PART)
_PARTS_RE = re.compile(rf"\s*(?:{_PART}\s*)+")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> float:
    """Seconds in `text`. Raises ValueError, its message starting `bad duration 'text':`
    and saying the format; callers add their own bounds (more than zero, at most...)."""
    lowered = text.lower() if isinstance(text, str) else ""
    if m := _BARE_RE.fullmatch(lowered):
        seconds = float(m.group(1))
    elif _PARTS_RE.fullmatch(lowered):
        seconds = sum(float(n) * _UNITS[u] for n, u in _PART_RE.findall(lowered))
    else:
        raise ValueError(
            f"bad duration {text!r}: use a number with ms, s, m, h, d or w (30s, 10m, 1h30m, 2w); "
            "a bare number is seconds"
        )
    if not seconds <= MAX_DURATION_S:  # also refuses inf and nan
        raise ValueError(f"bad duration {text!r}: the most is 100 years ({MAX_DURATION_S}s)")
    return seconds


def format_duration(seconds: float) -> str:
    """`seconds` for a person, in the grammar parse_duration reads: its two largest
    units, the smaller one dropped when zero (`42s`, `10m30s`, `3h`, `3h12m`, `2d5h`).
    Whole seconds, rounded down; a negative duration reads as `0s`."""
    s = max(0, int(seconds))
    for big, small, name, small_name in ((86400, 3600, "d", "h"), (3600, 60, "h", "m"), (60, 1, "m", "s")):
        if s >= big:
            rest = s % big // small
            return f"{s // big}{name}{rest}{small_name}" if rest else f"{s // big}{name}"
    return f"{s}s"

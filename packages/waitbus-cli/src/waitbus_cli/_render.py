"""Output shared by the reading verbs: one line or one JSON object per event, text
tables, progress on stderr, and the error type that carries an exit code.

Only the stdlib at module level: the verbs import this when they run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waitbus_wire import EventFrame

MAX_CELL = 80  # text tables cut longer cells; --json has the full value


def fail(verb: str, exc: object, code: int) -> int:
    print(f"waitbus {verb}: {exc}", file=sys.stderr)
    return code


# -- events ----------------------------------------------------------------------


def local_time(ns: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ns / 1e9))


def where_label(owner: str | None, repo: str | None) -> str:
    if not owner and not repo:
        return "-"
    return f"{owner or '-'}/{repo or '-'}"


def event_line(e: EventFrame) -> str:
    """time  source/event_type  owner/repo  summary  event_id"""
    where = where_label(e.owner, e.repo)
    return f"{local_time(e.received_at)}  {e.source}/{e.event_type}  {where}  {e.summary}  {e.event_id}"


def dumps(value: Any) -> str:
    """Compact JSON; bytes become base64 strings (msgspec's encoding)."""
    import msgspec

    return msgspec.json.encode(value).decode()


def emit_line(text: str) -> None:
    # Flush per line: a live tail piped into another program must not sit in a buffer.
    print(text, flush=True)


# -- tables ----------------------------------------------------------------------


def cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"
    text = str(value).replace("\n", "\\n").replace("\t", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain aligned text table with a header rule; numbers right-aligned."""
    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [
        bool(rows)
        and all(isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in rows if r[i] is not None)
        for i in range(len(columns))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    out = [line(list(columns)), "  ".join("-" * w for w in widths)]
    out.extend(line(r) for r in cells)
    return "\n".join(out)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if abs(size) < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


# -- progress --------------------------------------------------------------------


def progress(label: str, *, forced: bool, every: int = 1) -> Callable[[int, int], None] | None:
    """A `(done, total)` reporter on stderr, or None when it should stay quiet.

    On by default only when stderr is a terminal (a `\\r`-updated line); `--progress`
    forces it, and into a pipe or file each update is its own line.
    """
    tty = sys.stderr.isatty()
    if not (tty or forced):
        return None
    last = [0]

    def report(done: int, total: int) -> None:
        if done - last[0] < every and done < total:
            return
        last[0] = done
        pct = f" ({100 * done // total}%)" if total else ""
        text = f"{label}: {done}/{total} rows{pct}"
        if tty:
            end = "\n" if done >= total else ""
            sys.stderr.write(f"\r\x1b[K{text}{end}")
        else:
            sys.stderr.write(text + "\n")
        sys.stderr.flush()

    return report

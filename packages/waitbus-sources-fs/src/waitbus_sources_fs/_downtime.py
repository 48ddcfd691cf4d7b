"""What the fs source missed while it was not running.

A running watch marks itself alive in `<state dir>/fs/alive-<key>.json` (at start, every
30 s, and at a clean stop); the key is the set of watched roots. When a watch of the
same roots starts again, the time since that mark is a window in which no change was
seen: it is reported as one `fs_gap` event, with the paths whose modification time
falls in the window (deletions and moves leave no trace to find).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from waitbus import format_duration

from ._ignore import Paths, Root

GAP_EVENT = "fs_gap"
MARK_EVERY_S = 30.0
_LIST_AT_MOST = 50  # paths named in the event
_LIST_CHARS = 16_384  # and their length, well under the 48 KiB fields limit
_SCAN_AT_MOST = 20_000  # entries stat'ed per restart: a huge tree is reported as truncated


def _key(roots: list[Root]) -> str:
    spec = sorted(f"{r.dir}\0{r.recursive}\0{r.only or ''}" for r in roots)
    return hashlib.sha256("\n".join(spec).encode()).hexdigest()[:16]


class Liveness:
    def __init__(self, roots: list[Root], state_dir: Path) -> None:
        self.roots = roots
        self.file = state_dir / "fs" / f"alive-{_key(roots)}.json"

    def previous(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) and isinstance(data.get("alive_ns"), int) else None

    def mark(self, *, stopped: bool = False) -> None:
        """Best effort: a mark that cannot be written only makes the next gap look longer."""
        doc = {"roots": [r.dir for r in self.roots], "alive_ns": time.time_ns(), "stopped": stopped}
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            tmp = self.file.with_name(self.file.name + ".tmp")
            tmp.write_text(json.dumps(doc))
            os.replace(tmp, self.file)
        except OSError:
            pass


def changed_since(paths: Paths, roots: list[Root], since_ns: int) -> tuple[list[str], int, bool]:
    """(up to 50 paths modified after since_ns, how many in all, whether the scan stopped early)."""
    found: list[str] = []
    count = scanned = 0
    for root in roots:
        for path in _entries(root):
            scanned += 1
            if scanned > _SCAN_AT_MOST:
                return found, count, True
            if paths.ignored(path):
                continue
            try:
                mtime_ns = os.lstat(path).st_mtime_ns
            except OSError:
                continue
            if mtime_ns > since_ns:
                count += 1
                if len(found) < _LIST_AT_MOST and sum(map(len, found)) < _LIST_CHARS:
                    found.append(path)
    return found, count, False


def _entries(root: Root) -> list[str]:
    if root.only is not None:
        return [os.path.join(root.dir, root.only)]
    if not root.recursive:
        try:
            return [e.path for e in os.scandir(root.dir) if not e.is_dir(follow_symlinks=False)]
        except OSError:
            return []
    # Files only: a directory's mtime moves with its entries, which are listed themselves.
    out: list[str] = []
    for parent, _dirs, files in os.walk(root.dir):
        out.extend(os.path.join(parent, n) for n in files)
        if len(out) > _SCAN_AT_MOST:
            break
    return out


def gap_fields(previous: dict[str, Any], paths: Paths, roots: list[Root], now_ns: int) -> dict[str, Any]:
    since = int(previous["alive_ns"])
    changed, count, truncated = changed_since(paths, roots, since)
    return {
        "roots": [r.dir for r in roots],
        "down_from_ns": since,
        "down_until_ns": now_ns,
        "down_s": round((now_ns - since) / 1e9, 3),
        "clean_stop": bool(previous.get("stopped")),
        "changed": changed,
        "changed_count": count,
        "scan_truncated": truncated,
    }


def gap_summary(fields: dict[str, Any]) -> str:
    more = "+" if fields["scan_truncated"] else ""
    down = format_duration(fields["down_s"])
    return f"fs was not watching for {down}: {fields['changed_count']}{more} paths changed meanwhile"

"""Writing a small JSON file in the state dir so a reader sees the old file or the new
one, never a torn one: the secrets file and the sources' state files."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Any


def write_json_atomic(path: str | os.PathLike[str], data: Any, *, indent: int | None = 1) -> None:
    """A 0600 temp file in the same dir (made 0700 if missing), fsync, os.replace, then
    fsync the dir so the rename itself survives a crash. `indent=None`: compact."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}-", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            separators = (",", ":") if indent is None else None
            json.dump(data, f, indent=indent, sort_keys=True, separators=separators)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)

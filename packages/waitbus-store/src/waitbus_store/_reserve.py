"""Space kept back for retention: `<log>-reserve`, a file of RESERVE_BYTES beside the log.

On a full disk even a DELETE needs room (its pages go to the WAL first), so the
advice "run `waitbus db prune`" would fail exactly when it is given. Prune gives this
space back when it meets a full disk, deletes in small checkpointed steps, and takes
the space again once it has freed more.
"""

from __future__ import annotations

import os

RESERVE_BYTES = 4 << 20  # covers a prune's checkpoint and WAL while the hub keeps the WAL checkpointed
RESERVE_SUFFIX = "-reserve"


def reserve_path(db: str) -> str:
    return db + RESERVE_SUFFIX


def ensure_reserve(db: str) -> bool:
    """Make sure the reserve exists at full size (real blocks, not a sparse file).
    Best effort: False, and nothing left behind, when the disk has no room for it."""
    path = reserve_path(db)
    try:
        if os.stat(path).st_size >= RESERVE_BYTES:
            return True
    except FileNotFoundError:
        pass
    except OSError:
        return False
    tmp = f"{path}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(fd, 0, RESERVE_BYTES)
            else:  # macOS: write the blocks
                chunk = b"\0" * (1 << 20)
                for _ in range(RESERVE_BYTES // len(chunk)):
                    os.write(fd, chunk)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        return True
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return False


def release_reserve(db: str) -> bool:
    """Give the reserved space back to the file system; True if there was some."""
    try:
        os.unlink(reserve_path(db))
        return True
    except OSError:
        return False

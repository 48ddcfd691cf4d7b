"""This bus's identity: a random id made with the log (migration 3), stable for its life.

Host names repeat (cloned VMs, containers, two users on one host); the id does not, so
a bridge names its bus on the network by it and keeps the host name as a label.
"""

from __future__ import annotations

import os


def bus_id(path: str | os.PathLike[str]) -> str:
    """The id of the bus whose log is at `path` (32 hex digits), creating or migrating
    the log first if needed. Raises StoreError with the fix in the message."""
    from ._store import Store, StoreError

    with Store(path) as store:
        row = store._first("SELECT id FROM bus")
    if row is None:  # only if someone deleted the row by hand
        raise StoreError(f"{path} has no bus identity (the bus table is empty); move the file away and emit again")
    return str(row[0])

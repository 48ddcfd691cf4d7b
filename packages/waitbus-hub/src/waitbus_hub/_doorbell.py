"""Draining the doorbell: the rows producers carried in their datagrams, which the hub
fans out without reading the log, and whether it must read the log anyway.

The log stays the truth. A carried row is used only when it is the next after the
hub's head (rows commit in seq order, so head+1 is exactly the next row); a gap, a
bare ring, another log's row, or a drain long enough that a producer may have found
the queue full (its datagram dropped, EAGAIN) sends the hub to the log for the rest.
"""

from __future__ import annotations

import socket

from waitbus_store import MAX_CARRY, Row, carried


def _sysctl(path: str, default: int) -> int:
    try:
        with open(path) as fh:
            return int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        return default


def full_drain() -> int:
    """How many datagrams in one drain mean a producer may have been refused one: the
    queue holds at most net.unix.max_dgram_qlen (a send beyond it fails), and a
    producer's socket buffer at least wmem_default / (2 x MAX_CARRY + 1 KiB) of ours."""
    qlen = _sysctl("/proc/sys/net/unix/max_dgram_qlen", 10)
    wmem = _sysctl("/proc/sys/net/core/wmem_default", 212_992)
    return max(1, min(qlen, wmem // (2 * MAX_CARRY + 1024)))


def drain(bell: socket.socket, db: str, head_seq: int, full: int) -> tuple[list[Row], bool]:
    """Read every pending datagram. Returns the carried rows that follow the head
    without a gap, in seq order, and True when the log must be read too."""
    rows: list[Row] = []
    read_log = False
    count = 0
    try:
        while True:
            row = carried(db, bell.recv(MAX_CARRY + 1))
            count += 1
            if row is None:
                read_log = True
            else:
                rows.append(row)
    except BlockingIOError:
        pass
    rows.sort()
    following: list[Row] = []
    for row in rows:
        nxt = head_seq + len(following) + 1
        if row.seq < nxt:
            continue  # already sent: the log was read since this one rang
        if row.seq > nxt:
            read_log = True  # a gap: a row committed whose datagram is not here (yet)
            break
        following.append(row)
    return following, read_log or count >= full

"""The advice for a full disk works on a full disk: `waitbus db prune`, which the
disk-full error recommends, frees space on a real, completely full tmpfs, using the
space the log keeps in reserve (`events.db-reserve`, docs/store.md "Retention")."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests._support import faults as fh
from waitbus import emit
from waitbus_store import Store, StoreError, resolve_paths


def fill_until_full() -> int:
    """Emit until the disk is full, checkpointing every 100 events as a running hub
    would (without one, producers checkpoint only every 10,000 pages)."""
    n = 0
    with pytest.raises(StoreError, match="disk or database is full") as info:
        while True:
            emit("agent", "load", fields={"i": n, "pad": "x" * 500})
            n += 1
            if n % 100 == 0:
                with Store(resolve_paths().db) as store:
                    store.checkpoint()
    assert "waitbus db prune" in str(info.value)  # the advice this test holds to account
    return n


@pytest.mark.timeout(180)
def test_db_prune_frees_a_full_disk_and_emit_works_again(tmpfs, waitbus_env) -> None:
    state = tmpfs(Path(waitbus_env["WAITBUS_STATE_DIR"]), "12m")
    stored = fill_until_full()
    assert os.statvfs(state).f_bavail == 0 and stored > 1000
    reserve = resolve_paths().db.with_name("events.db-reserve")

    done = fh.cli("db", "prune", "--max-rows", "10")
    assert done.returncode == 0, done.stderr
    assert f"deleted {stored - 10} events, 10 remain" in done.stdout, done.stdout
    free = os.statvfs(state).f_bavail * os.statvfs(state).f_frsize
    assert free > 4 << 20, free  # the log shrank: space for new events
    assert reserve.stat().st_size == 4 << 20  # and the reserve is taken back for next time
    after = fh.cli("emit", "agent", "after-prune")
    assert after.returncode == 0, after.stderr
    assert [r["event_type"] for r in fh.stored()][-1] == "after-prune"
    assert len(fh.stored()) == 11

"""Many producer processes writing one log at the same time."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from waitbus_store import Store

WRITER = r"""
import sys, time
from pathlib import Path
from waitbus_store import Store
from waitbus_wire import encode_fields

db, go, worker, count = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
deadline = time.monotonic() + 30
while not go.exists():
    if time.monotonic() > deadline:
        sys.exit("no go signal")
    time.sleep(0.001)
with Store(db) as store:
    seqs = []
    for i in range(count):
        r = store.insert(
            source="bench",
            event_type="tick",
            fields=encode_fields("bench", "tick", {"worker": worker, "i": i}),
            delivery_id=f"{worker}-{i}",
        )
        assert r.inserted, r
        seqs.append(r.seq)
    assert seqs == sorted(seqs), "a writer saw its own seqs go backwards"
print("ok")
"""


def run_writers(db: Path, go: Path, workers: int, count: int) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db), str(go), f"w{k}", str(count)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for k in range(workers)
    ]
    try:
        time.sleep(0.3)  # let every interpreter start and wait at the barrier
        go.touch()
        results = [p.communicate(timeout=60) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait(10)
    for p, (out, err) in zip(procs, results, strict=True):
        assert p.returncode == 0, err.decode()
        assert out.strip() == b"ok"


def check_log(db: Path, workers: int, count: int) -> None:
    with Store(db) as store:
        rows = store.read_after(0, limit=10 * workers * count)
        total = workers * count
        assert store.count() == len(rows) == total
        seqs = [r.seq for r in rows]
        assert seqs == list(range(1, total + 1)), "seq has gaps"
        ids = [r.event_id for r in rows]
        assert ids == sorted(ids), "event_id order differs from seq (commit) order"
        assert len(set(ids)) == total
        assert {r.delivery_id for r in rows} == {f"w{k}-{i}" for k in range(workers) for i in range(count)}
        # Each writer's events appear in the order it wrote them.
        for k in range(workers):
            mine = [r.delivery_id for r in rows if r.delivery_id.startswith(f"w{k}-")]
            assert mine == [f"w{k}-{i}" for i in range(count)]


def test_four_processes_insert_300_each(tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    Store(db).close()
    run_writers(db, tmp_path / "go", workers=4, count=300)
    check_log(db, workers=4, count=300)


def test_four_processes_create_and_migrate_a_fresh_file_at_once(tmp_path: Path) -> None:
    db = tmp_path / "fresh" / "events.db"
    run_writers(db, tmp_path / "go", workers=4, count=25)
    check_log(db, workers=4, count=25)

"""A log with damaged pages behind an intact header gets the same answer from every door
that reads it: the documented exit code (2) or an MCP error, with the store's advice,
never a sqlite3 traceback. `waitbus db check` and `waitbus doctor` find the damage.

What a write does and does not detect is in SECURITY.md: `waitbus emit` reads only the
pages its insert touches, so damage elsewhere lets it store the event (exit 0) and is
reported by `db check`, `doctor` and any reader that reaches it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

import anyio
import pytest
from mcp import ClientSession, MCPError
from mcp.client.stdio import StdioServerParameters, stdio_client

from tests._support import faults as fh
from waitbus import emit, hub_stats
from waitbus_store import Store, StoreError, plan_prune, resolve_paths

ADVICE = "is corrupt or not a SQLite file"
FIX = "move it away and run `waitbus init`"


def damaged_log(events: int = 3000, pad: int = 200, first: int = 20, count: int = 40) -> Path:
    """`events` events, checkpointed into the main file, then pages first..first+count
    overwritten with random bytes (by default 20-60 of ~380: table pages past the schema)."""
    for i in range(events):
        emit("agent", "load", fields={"i": i, "pad": "x" * pad})
    db = resolve_paths().db
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    with open(db, "r+b") as f:
        f.seek(first * 4096)
        f.write(os.urandom(count * 4096))
    return db


READERS = [
    ("read-events", "list", "--limit", "5000"),
    ("stats",),
    ("stats", "--json"),
    ("status",),
    ("status", "--json"),
    ("replay",),
    ("replay", "--coalesce"),
    ("top", "--once", "--since", "1000d"),
    ("events", "query", "SELECT count(*), max(length(fields)) FROM events"),
]


@pytest.mark.timeout(180)
def test_every_reading_door_exits_2_with_the_store_advice() -> None:
    db = damaged_log()
    for args in READERS:
        done = fh.cli(*args)
        assert done.returncode == 2, (args, done.stdout[-500:], done.stderr[-2000:])
        assert ADVICE in done.stderr and FIX in done.stderr and str(db) in done.stderr, (args, done.stderr)
        assert "Traceback" not in done.stderr, (args, done.stderr)


@pytest.mark.timeout(120)
def test_db_check_and_doctor_find_the_damage_and_emit_elsewhere_still_stores() -> None:
    db = damaged_log()
    check = fh.cli("db", "check")
    assert check.returncode == 1, check.stderr
    assert f"{db} is damaged" in check.stderr and "Page " in check.stderr, check.stderr
    as_json = fh.cli("db", "check", "--json")
    assert as_json.returncode == 1 and '"ok":false' in as_json.stdout.replace(" ", ""), as_json.stdout
    doctor = fh.cli("doctor")
    assert doctor.returncode == 1 and f"{db} is damaged" in doctor.stdout, doctor.stdout
    # Documented in SECURITY.md: a write reads only the pages its insert touches. Damage
    # on them is refused (exit 4, the advice); damage elsewhere is not seen, and the
    # event is stored (which pages random bytes break decides which, so both are allowed).
    done = fh.cli("emit", "agent", "after-damage")
    if done.returncode == 4:
        assert ADVICE in done.stderr and FIX in done.stderr, done.stderr
    else:
        assert done.returncode == 0, done.stderr
        found = fh.cli("events", "query", f"SELECT event_type FROM events WHERE event_id = '{done.stdout.strip()}'")
        assert found.returncode == 0 and "after-damage" in found.stdout, found


@pytest.mark.timeout(120)
def test_retention_reaching_the_damage_gives_the_advice_and_the_hub_keeps_serving() -> None:
    """The age query of a prune scans the table. `db prune` and a hub's retention pass
    (every autostarted hub and `broadcast serve` have retention defaults) used to die
    there with a sqlite3 traceback (exit 1). One table leaf in the middle, indexes intact:
    the age query scans the table from its newest row and reaches it."""
    db = damaged_log(events=400, pad=300, count=0)
    conn = sqlite3.connect(db)
    leaves = [r[0] for r in conn.execute("SELECT pageno FROM dbstat WHERE name = 'events' AND pagetype = 'leaf'")]
    conn.close()
    with open(db, "r+b") as f:
        f.seek((sorted(leaves)[len(leaves) // 2] - 1) * 4096)
        f.write(os.urandom(4096))
    with Store(str(db)) as store, pytest.raises(StoreError, match=ADVICE):
        plan_prune(store, older_than_s=86400)
    done = fh.cli("db", "prune", "--older-than", "1d")
    assert done.returncode == 4, (done.stdout[-500:], done.stderr[-2000:])
    assert ADVICE in done.stderr and FIX in done.stderr and "Traceback" not in done.stderr, done.stderr

    hub = subprocess.Popen(
        [fh.WAITBUS, "broadcast", "serve"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        fh.wait_until(lambda: hub_stats(timeout=1)[0], "the hub to answer")
        deadline = time.monotonic() + 20  # the first retention pass runs 10 s after start
        while time.monotonic() < deadline and hub.poll() is None:
            time.sleep(0.2)
        assert hub.poll() is None, hub.communicate(timeout=10)[0]
        stats, why = hub_stats(timeout=5)
        assert stats is not None, why
    finally:
        hub.terminate()
        out = hub.communicate(timeout=15)[0]
    assert "retention failed" in out and FIX in out and "Traceback" not in out, out


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
@pytest.mark.timeout(120)
async def test_the_mcp_server_answers_a_tool_error_and_a_resource_error(tmp_path: Path) -> None:
    db = await anyio.to_thread.run_sync(damaged_log)
    env = {k: v for k, v in os.environ.items() if k.startswith(("WAITBUS_", "XDG_"))}
    env["WAITBUS_NO_AUTOSTART"] = "1"
    params = StdioServerParameters(command=fh.WAITBUS, args=["mcp", "serve", "--no-channel"], env=env)
    with (tmp_path / "server.log").open("w") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            with anyio.fail_after(60):
                await session.initialize()
                res = await session.call_tool("status", {})
                text = " ".join(getattr(c, "text", "") for c in res.content)
                assert res.is_error and ADVICE in text and str(db) in text, text
                with pytest.raises(MCPError) as caught:
                    await session.read_resource("waitbus://source/agent")
    assert caught.value.code == -32603, caught.value  # INTERNAL_ERROR, not 0
    assert ADVICE in str(caught.value) and FIX in str(caught.value)

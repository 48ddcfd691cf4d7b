"""kill -9 of the hub under load, on the path test_bus_delivery does not cover.

Already proven elsewhere (not repeated here):
- integration/test_bus_delivery.py::test_kill9_of_the_hub_mid_stream_loses_and_duplicates_nothing:
  the hub killed twice while one emitter keeps emitting; three live subscribers in other
  processes get every committed event exactly once, in order.
- integration/test_hub_guarantees.py::test_stale_socket_from_a_crash_is_replaced.

Here the subscriber is *replaying* a large backlog from a cursor (the hub paces it by its
socket, 500 rows at a time) when the hub dies, while several emitter processes keep
committing: the SDK reconnects from its own cursor to the new hub and the stream has no
gap and no duplicate.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests._support import bus
from tests._support import faults as fh
from waitbus import emit

INTEGRATION = Path(__file__).resolve().parents[1]
BACKLOG = 20_000


@pytest.mark.timeout(120)
def test_kill9_mid_replay_while_emitters_keep_emitting_resumes_without_gap_or_duplicate(hub, reap, tmp_path):
    cursor = emit("agent", "start").event_id
    for i in range(BACKLOG):
        emit("agent", "load", fields={"tag": "backlog", "i": i})
    out = tmp_path / "sub.txt"
    # A slow reader (>= 4 s for the backlog): the kill lands mid-replay however late the
    # test gets to it after the first 500 lines.
    matches = ["--match", 'event_type="load"', "--match", 'event_type="control"']
    sub = bus.start_subscriber(reap, out, "--since", cursor, *matches, "--pace", "0.0002")
    emitters = [
        reap(subprocess.Popen([sys.executable, str(INTEGRATION / "emit_worker.py"), "1500", f"e{i}", "0.0005"]))
        for i in range(3)
    ]
    fh.wait_until(lambda: fh.line_count(out) >= 500, "the replay to start")
    hub.kill()
    time.sleep(0.3)  # the emitters keep committing while no hub runs; the subscriber drains its socket
    from_first_hub = fh.line_count(out)
    hub.start()
    for proc in emitters:
        assert proc.wait(90) == 0
    bus.finish([sub], timeout=90)
    expected = bus.stored_ids()
    assert len(expected) == BACKLOG + 3 * 1500  # every emit committed, hub or no hub
    got = out.read_text().split()
    assert from_first_hub < BACKLOG, "the hub died after the replay, not during it"
    assert len(got) == len(set(got)), "duplicate delivery"
    assert got == expected  # no gap, commit order

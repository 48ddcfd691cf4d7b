"""hub_stats lists each connected subscriber with its lag (docs/wire.md, `clients`):
what `waitbus web` shows as "the hub's connected subscribers"."""

from __future__ import annotations

import os

import pytest

from waitbus import emit
from waitbus_wire import encode_frame


def stats(raw_client) -> dict[str, object]:
    client = raw_client()
    client.send_raw(encode_frame(b'{"op":"stats"}'))
    frame = client.next(5)
    assert frame is not None and frame["kind"] == "hub_stats", frame
    client.close()
    return frame


@pytest.mark.timeout(120)
def test_stats_list_every_subscriber_with_its_lag(hub, raw_client):
    pad = "x" * 1000
    for i in range(3000):
        emit("agent", "load", fields={"i": i, "pad": pad})
    reading = raw_client()
    reading.subscribe()  # live at the head, keeps up
    stalled = raw_client()
    stalled.subscribe(since="00000000000000000000000000")  # replays 3 MB and never reads

    got = stats(raw_client)
    clients = got["clients"]
    assert isinstance(clients, list) and len(clients) == got["subscribers"] == 2
    first, second = clients
    # The most lagging first: the stalled replay has bytes queued and rows still to read.
    assert first["state"] == "replay" and first["queued_bytes"] > 0 and first["behind_rows"] > 0
    assert second == {
        "pid": os.getpid(),
        "state": "live",
        "connected_sec": second["connected_sec"],
        "queued_bytes": 0,
        "behind_rows": 0,
    }
    assert first["pid"] == os.getpid()
    assert 0 <= second["connected_sec"] < 60

    stalled.close()
    reading.close()

"""Expensive hub-side predicates (SECURITY.md): the hub matches every subscription's
`where` against every event in its one thread, so 50 subscribers with 15 specs each
comparing 2,000-element lists once made every event take ~420 ms for everyone. A
`where` whose worst-case matching cost is over MAX_WHERE_COST is now refused with a
subscribe_rejected frame, and the hub serves cheaper filters first, so even 50 of the
costliest `where`s still accepted leave a normal subscriber's latency within 2x.

Latency is compared on the same events (one normal subscriber that joined before the
costly ones, one after), as a ratio of medians with a generous margin: absolute times
on a shared 2-core box mean nothing."""

from __future__ import annotations

import json
import select
import statistics
import time

import pytest

from waitbus import emit, wait_for
from waitbus_wire import MAX_WHERE_COST, WHERE_TOO_EXPENSIVE, parse_predicate, where_cost

ATTACKERS = 50
SAMPLES = 60
GAP_S = 0.05  # between events: more than the hub needs to match them all, so no queue builds
KEYS = 64
BIG = [0] * 1999 + [1]


def _list_spec(key: str, n: int, last: int) -> str:
    return f"{key}={json.dumps([0] * (n - 1) + [last], separators=(',', ':'))}"


# The attack as found: 15 specs, each a 2,000-element list equal to the event's up to
# its last element, so every comparison walks the whole list.
ATTACK_WHERE = [[_list_spec("fields.big", 2000, k) for k in range(2, 17)]]
# The costliest `where` the hub still takes for this event: key tests that all match
# but the last, so nothing short-circuits.
HEAVY_WHERE = [[f"fields.k{i}={i}" for i in range(41)] + ["fields.k41=-1"]]
NORMAL_WHERE = [['source="load"']]  # the normal subscriber filters too: both phases decode each event


def _latencies(first, second, n: int) -> tuple[list[float], list[float]]:
    """Emit n events one at a time; for each, when each of the two clients had it."""
    fields = {"big": BIG, **{f"k{i}": i for i in range(KEYS)}}
    out: tuple[list[float], list[float]] = ([], [])
    for i in range(n + 5):
        time.sleep(GAP_S)
        t0 = time.perf_counter()
        sent = emit("load", "tick", fields={**fields, "i": i}).event_id
        arrived = {}
        while len(arrived) < 2:
            ready, _, _ = select.select([c.sock for c in (first, second) if c not in arrived], [], [], 30)
            assert ready, "an event did not arrive"
            now = time.perf_counter()
            for c in (first, second):
                if c.sock in ready and c not in arrived:
                    frame = c.next(5)
                    if frame is not None and frame["kind"] == "event":
                        assert frame["event_id"] == sent
                        arrived[c] = now - t0
        if i >= 5:  # the first few warm caches
            out[0].append(arrived[first])
            out[1].append(arrived[second])
    return out


def _p99(xs: list[float]) -> float:
    return sorted(xs)[min(len(xs) - 1, round(0.99 * len(xs)))]


def test_the_costs_are_what_the_test_assumes():
    assert where_cost(parse_predicate(w) for w in ATTACK_WHERE) > 100 * MAX_WHERE_COST
    heavy = where_cost(parse_predicate(w) for w in HEAVY_WHERE)
    assert 0.9 * MAX_WHERE_COST <= heavy <= MAX_WHERE_COST


@pytest.mark.timeout(300)
def test_expensive_wheres_are_refused_and_the_costliest_allowed_leave_others_within_2x(hub, raw_client):
    for _ in range(ATTACKERS):
        attacker = raw_client()
        attacker.send_raw(_subscribe_frame(ATTACK_WHERE))
        frame = attacker.next(10)
        assert frame is not None and frame["kind"] == "subscribe_rejected", frame
        assert frame["reason"] == WHERE_TOO_EXPENSIVE
        assert f"at most {MAX_WHERE_COST}" in str(frame["remediation"])
        assert attacker.next(5) is None and attacker.eof  # then the hub closes it
        attacker.close()

    # A normal subscriber that joined before the costliest allowed `where`s and one
    # that joined after them (once served after them in the fan-out): the same events,
    # the same load on the box, with and without their cost.
    ahead = raw_client()
    ahead.subscribe(where=NORMAL_WHERE)
    for _ in range(ATTACKERS):
        raw_client().subscribe(where=HEAVY_WHERE)  # accepted: within the budget
    behind = raw_client()
    behind.subscribe(where=NORMAL_WHERE)
    alone, beside = _latencies(ahead, behind, SAMPLES)

    ratio = statistics.median(beside) / statistics.median(alone)
    print(
        f"\nnormal subscriber, median/p99 ms: alone {statistics.median(alone) * 1e3:.2f}/{_p99(alone) * 1e3:.2f}, "
        f"joined after {ATTACKERS} of the costliest allowed wheres (and {ATTACKERS} refused attackers) "
        f"{statistics.median(beside) * 1e3:.2f}/{_p99(beside) * 1e3:.2f} (median ratio {ratio:.2f})"
    )
    assert ratio < 2.0, f"the costliest allowed wheres raised another subscriber's median latency {ratio:.2f}x"


@pytest.mark.timeout(60)
def test_a_wait_the_hub_would_refuse_to_filter_still_matches_filtered_by_its_sdk(hub):
    other = emit("load", "tick", fields={"big": [0] * 2000}).event_id
    sent = emit("load", "tick", fields={"big": BIG}).event_id
    got = wait_for(_list_spec("fields.big", 2000, 1), since=other, timeout=20)
    assert got is not None and got.event_id == sent


def _subscribe_frame(where: list[list[str]]) -> bytes:
    import msgspec

    from waitbus_wire import encode_frame

    return encode_frame(msgspec.json.encode({"where": where}))

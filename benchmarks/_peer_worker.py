"""Subscriber and publisher processes for benchmarks/peers.py, one client library
each (run as a script, never imported by the suite; it may run under another venv's
Python: the reference waitbus 0.2.0 lives in its own).

_peer_worker.py sub PEER URL RUN OUT
    subscribe; say "ready" when the first warm-up event arrives (so the subscription
    is live end to end, for every peer alike), record run RUN until its `done` event,
    then write OUT (JSON, the same record as _worker.py's subscribers).
_peer_worker.py pub PEER URL RUN EVENTS RATE OUT
    say "connected", emit warm-up events every 5 ms until a line comes on stdin, then
    EVENTS events: RATE > 0 paced open loop (event k leaves at t0 + k/RATE), RATE 0
    back to back; then the `done` event; write OUT (emit-call times, schedule lag, CPU).

PEER: waitbus (ours), waitbus-ref (waitbus 0.2.0 from PyPI), redis-pubsub,
redis-streams, nats-core, nats-jetstream. URL: redis://host:port, nats://host:port,
or "-" for the waitbus peers (WAITBUS_STATE_DIR / WAITBUS_RUNTIME_DIR say where).
Every event carries {run, i, t_ns} (plus warm / done / count), t_ns taken with
time.time_ns() right before the publish call; latency = receipt - t_ns.
"""

from __future__ import annotations

import asyncio
import json
import resource
import select
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from _harness import sleep_until
from _worker import IDLE_TIMEOUT_S, Recorder, summarize

STREAM = "bench"  # the Redis stream, the NATS subject prefix and JetStream stream
WARM_PERIOD_S = 0.005
SETTLE_S = 0.5  # after the last measured event, before `done` (see _scenarios.end_run)

Fields = dict[str, Any]


def _cpu() -> tuple[float, float]:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime, r.ru_stime


def _hostport(url: str) -> tuple[str, int]:
    host, _, port = url.split("://", 1)[1].rpartition(":")
    return host, int(port)


# -- the reference waitbus 0.2.0 carries no free-form fields on its frames: the
#    measured ones ride in delivery_id (unique per event) and received_at.


def _ref_id(f: Fields) -> str:
    tag = "d" if f.get("done") else "w" if f.get("warm") else "m"
    return f"{f['run']}|{tag}|{f['i']}|{f.get('count', 0)}"


def _ref_fields(delivery_id: str, received_at: int) -> Fields:
    run, tag, i, count = delivery_id.split("|")
    return {"run": run, "i": int(i), "t_ns": received_at, "warm": tag == "w", "done": tag == "d", "count": int(count)}


# -- subscribers: each yields every event's fields as it arrives (sync clients), or
#    calls back (asyncio clients).


def _sub_waitbus(_url: str) -> Iterator[Fields]:
    import waitbus

    sub = waitbus.subscribe(source="bench")
    while (frame := sub.get(IDLE_TIMEOUT_S)) is not None:
        yield frame.fields


def _sub_waitbus_ref(_url: str) -> Iterator[Fields]:
    import waitbus

    for frame in waitbus.subscribe(source="agent"):
        yield _ref_fields(frame.delivery_id, frame.received_at)


def _sub_redis_pubsub(url: str) -> Iterator[Fields]:
    import redis

    ps = redis.Redis.from_url(url, socket_timeout=None).pubsub()
    ps.subscribe(STREAM)
    for msg in ps.listen():  # blocks; the suite's own timeout ends a stuck worker
        if msg["type"] == "message":
            yield json.loads(msg["data"])


def _sub_redis_streams(url: str) -> Iterator[Fields]:
    import redis

    r = redis.Redis.from_url(url, socket_timeout=None)  # waits as long as XREAD BLOCK 0
    last = r.xrevrange(STREAM, count=1)
    cursor = last[0][0] if last else b"0-0"  # "$" would miss what lands before the first XREAD
    while reply := r.xread({STREAM: cursor}, block=0, count=1000):  # the suite's timeout ends a stuck one
        entries = reply[0][1]
        cursor = entries[-1][0]
        for _id, entry in entries:
            yield json.loads(entry[b"m"])


async def _sub_nats(url: str, jetstream: bool, on: Callable[[Fields], bool]) -> None:
    import nats
    from nats.js.api import DeliverPolicy

    nc = await nats.connect(url)
    done = asyncio.Event()

    async def cb(msg: Any) -> None:
        if on(json.loads(msg.data)):
            done.set()

    if jetstream:
        await nc.jetstream().subscribe(f"{STREAM}.js", cb=cb, ordered_consumer=True, deliver_policy=DeliverPolicy.NEW)
    else:
        await nc.subscribe(f"{STREAM}.core", cb=cb)
    await nc.flush()
    await asyncio.wait_for(done.wait(), None)
    await nc.close()


SYNC_SUBS: dict[str, Callable[[str], Iterator[Fields]]] = {
    "waitbus": _sub_waitbus,
    "waitbus-ref": _sub_waitbus_ref,
    "redis-pubsub": _sub_redis_pubsub,
    "redis-streams": _sub_redis_streams,
}


def run_sub(peer: str, url: str, run: str, out: str) -> int:
    record: dict[str, Any] = {"timed_out": False}
    rec = Recorder(run, record)
    ready = False
    start = _cpu()

    def on(f: Fields) -> bool:
        nonlocal ready, start
        now = time.time_ns()
        if not ready:
            ready = True
            start = _cpu()
            print("ready", flush=True)
        return rec.on_event(f, now)

    if peer in SYNC_SUBS:
        record["timed_out"] = True  # unless `done` comes
        for f in SYNC_SUBS[peer](url):
            if on(f):
                record["timed_out"] = False
                break
    else:
        asyncio.run(_sub_nats(url, peer == "nats-jetstream", on))
    end = _cpu()
    with open(out, "w") as fh:
        cpu = {"cpu_user_s": end[0] - start[0], "cpu_sys_s": end[1] - start[1]}
        json.dump({"subs": [summarize(record)], **cpu}, fh)
    return 0


# -- publishers: a sync send(fields) for every peer (asyncio ones run on a loop).


def _pub_waitbus(_url: str) -> Callable[[Fields], None]:
    import waitbus

    def send(f: Fields) -> None:
        waitbus.emit("bench", "lat", fields=f)

    return send


def _pub_waitbus_ref(_url: str) -> Callable[[Fields], None]:
    import waitbus
    from waitbus._types import EventInsert  # 0.2.0 exports no public name for it

    def send(f: Fields) -> None:
        waitbus.emit(
            EventInsert(
                delivery_id=_ref_id(f),
                source="agent",
                event_type="agent_message",
                owner="bench",
                repo="bench",
                received_at=f["t_ns"],
                payload_json="{}",
                ingest_method="sdk",
            )
        )

    return send


def _pub_redis(url: str, streams: bool) -> Callable[[Fields], None]:
    import redis

    r = redis.Redis.from_url(url)
    if streams:
        return lambda f: r.xadd(STREAM, {"m": json.dumps(f)})
    return lambda f: r.publish(STREAM, json.dumps(f))


class _NatsPub:
    """nats-py is asyncio only: one loop, driven a step per publish. The PUB is
    written by the client's flusher task, so each send runs the loop until it has
    (core) or until the server's ack came back (JetStream: the durable write)."""

    def __init__(self, url: str, jetstream: bool) -> None:
        import nats

        self.loop = asyncio.new_event_loop()
        self.nc = self.loop.run_until_complete(nats.connect(url))
        self.js = self.nc.jetstream() if jetstream else None
        self.subject = f"{STREAM}.js" if jetstream else f"{STREAM}.core"

    async def _send(self, data: bytes) -> None:
        if self.js is not None:
            await self.js.publish(self.subject, data)
        else:
            await self.nc.publish(self.subject, data)
            await asyncio.sleep(0)  # let the flusher write it now

    def __call__(self, f: Fields) -> None:
        self.loop.run_until_complete(self._send(json.dumps(f).encode()))

    def close(self) -> None:
        self.loop.run_until_complete(self.nc.drain())


def publisher(peer: str, url: str) -> Callable[[Fields], None]:
    if peer == "waitbus":
        return _pub_waitbus(url)
    if peer == "waitbus-ref":
        return _pub_waitbus_ref(url)
    if peer.startswith("redis-"):
        return _pub_redis(url, peer == "redis-streams")
    return _NatsPub(url, peer == "nats-jetstream")


def _stdin_has_line(timeout: float) -> bool:
    ready, _, _ = select.select([sys.stdin], [], [], timeout)
    return bool(ready)


def run_pub(peer: str, url: str, run: str, events: int, rate: float, out: str) -> int:
    send = publisher(peer, url)
    print("connected", flush=True)
    warm = 0
    while not _stdin_has_line(WARM_PERIOD_S):
        send({"run": run, "i": warm, "t_ns": time.time_ns(), "warm": True})
        warm += 1
    sys.stdin.readline()
    time.sleep(0.2)  # let every subscriber drain the warm-up
    lag: list[int] = []
    call: list[int] = []
    cpu0 = _cpu()
    t_first = time.time_ns()
    start = time.perf_counter_ns() + 5_000_000
    period = 1e9 / rate if rate > 0 else 0.0
    for i in range(events):
        if period:
            lag.append(sleep_until(start + int(i * period)))
        t0 = time.perf_counter_ns()
        send({"run": run, "i": i, "t_ns": time.time_ns()})
        call.append(time.perf_counter_ns() - t0)
    t_emitted = time.time_ns()
    cpu1 = _cpu()
    time.sleep(SETTLE_S)
    send({"run": run, "i": events, "t_ns": time.time_ns(), "done": True, "count": events})
    if isinstance(send, _NatsPub):
        send.close()
    with open(out, "w") as fh:
        json.dump(
            {
                "warm_events": warm,
                "t_first_ns": t_first,
                "t_emitted_ns": t_emitted,
                "lag_ns": lag,
                "call_ns": call,
                "cpu_s": cpu1[0] + cpu1[1] - cpu0[0] - cpu0[1],
            },
            fh,
        )
    return 0


def main(argv: list[str]) -> int:
    mode, args = (argv[0], argv[1:]) if argv else ("", [])
    if mode == "sub" and len(args) == 4:
        return run_sub(*args)
    if mode == "pub" and len(args) == 6:
        return run_pub(args[0], args[1], args[2], int(args[3]), float(args[4]), args[5])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)

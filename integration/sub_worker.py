"""A subscriber process for integration tests (run as a script, not collected).

Usage: sub_worker.py OUT_FILE [--since ID] [--match SPEC ...] [--pace SECONDS]
Writes "ready" to stdout once subscribed, then one event_id per line to OUT_FILE
(flushed) until an event with fields.done == true arrives; with --pace, it sleeps that
long after each event (a slow reader: a test can then act in the middle of a replay).
"""

from __future__ import annotations

import argparse
import sys
import time

from waitbus import subscribe


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--since", default=None)
    p.add_argument("--match", action="append", default=None)
    p.add_argument("--pace", type=float, default=0.0)
    args = p.parse_args()
    with open(args.out, "w") as out, subscribe(args.match, since=args.since) as sub:
        print("ready", flush=True)
        for frame in sub:
            if frame.fields.get("done") is True:
                return 0
            out.write(frame.event_id + "\n")
            out.flush()
            if args.pace:
                time.sleep(args.pace)
    return 1


if __name__ == "__main__":
    sys.exit(main())

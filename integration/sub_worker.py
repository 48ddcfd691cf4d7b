"""A subscriber process for integration tests (run as a script, not collected).

Usage: sub_worker.py OUT_FILE [--since ID] [--match SPEC ...]
Writes "ready" to stdout once subscribed, then one event_id per line to OUT_FILE
(flushed) until an event with fields.done == true arrives.
"""

from __future__ import annotations

import argparse
import sys

from waitbus import subscribe


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--since", default=None)
    p.add_argument("--match", action="append", default=None)
    args = p.parse_args()
    with open(args.out, "w") as out, subscribe(args.match, since=args.since) as sub:
        print("ready", flush=True)
        for frame in sub:
            if frame.fields.get("done") is True:
                return 0
            out.write(frame.event_id + "\n")
            out.flush()
    return 1


if __name__ == "__main__":
    sys.exit(main())

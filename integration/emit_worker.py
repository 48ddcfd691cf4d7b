"""An emitter process for integration tests: emit_worker.py COUNT TAG [PACE_S]."""

from __future__ import annotations

import sys
import time

from waitbus import emit


def main() -> int:
    count, tag = int(sys.argv[1]), sys.argv[2]
    pace = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    for i in range(count):
        emit("agent", "load", fields={"tag": tag, "i": i})
        if pace:
            time.sleep(pace)
    return 0


if __name__ == "__main__":
    sys.exit(main())

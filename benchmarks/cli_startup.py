"""Whole-process start-up of the hot commands: kept as a short name for

    .venv/bin/python benchmarks/e2e.py --only startup [--quick] [--repeat N]

(the start-up scenario lives in _startup.py and runs with the rest of the suite).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import e2e

if __name__ == "__main__":
    sys.exit(e2e.main(["--only", "startup", *sys.argv[1:]]))

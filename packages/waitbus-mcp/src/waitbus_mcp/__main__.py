"""`python -m waitbus_mcp`: the same as the `waitbus-mcp` console script."""

from __future__ import annotations

import sys

from waitbus_mcp import main

sys.exit(main())

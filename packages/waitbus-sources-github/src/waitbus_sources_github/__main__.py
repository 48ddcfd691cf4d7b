"""`python -m waitbus_sources_github etag-poll|pr-monitor ARGS` (no waitbus-cli needed)."""

import sys

from . import run_source

raise SystemExit(run_source(sys.argv[1:]))

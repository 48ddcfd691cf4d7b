"""waitbus-web: a live view of the local event bus in the browser.

    waitbus web            # or: waitbus-web; prints http://127.0.0.1:PORT/?token=... first

Loopback only, a random token per run, every asset served from this package, event
content rendered as text only. Live events over Server-Sent Events with the SDK's
cursor semantics, a filter in the `key=json` grammar, per-source rates, the hub's
subscribers and their lag, a latency histogram, pause and replay. See docs/web.md.
"""

from __future__ import annotations

from ._cli import main
from ._filter import check_filter, split_specs
from ._server import HOST, WebConfig, WebServer

__all__ = ["HOST", "WebConfig", "WebServer", "check_filter", "main", "split_specs"]

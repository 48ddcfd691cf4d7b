"""Ask the running daemons how they are: the hub over its socket, the listener over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from waitbus_wire import HubStats


def hub_stats(sock_path: Path, timeout: float = 3.0) -> tuple[HubStats | None, str]:
    """(stats, "") from a live hub, else (None, why not)."""
    from waitbus import hub_stats as ask

    return ask(sock_path, timeout)


def listener_health(port: int, timeout: float = 2.0) -> tuple[bool, str]:
    """(True, detail) if GET http://127.0.0.1:<port>/healthz answers 2xx."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read(4096)
    except (OSError, http.client.HTTPException) as exc:
        return False, f"no listener on 127.0.0.1:{port} ({exc.__class__.__name__}: {exc})"
    finally:
        conn.close()
    if 200 <= resp.status < 300:
        return True, f"127.0.0.1:{port}/healthz answered {resp.status}"
    return False, f"127.0.0.1:{port}/healthz answered {resp.status} {resp.reason}"

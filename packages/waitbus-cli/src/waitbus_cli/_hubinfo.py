"""Ask the listener how it is, over HTTP (the hub: `waitbus.hub_stats`)."""

from __future__ import annotations


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

"""Ask the running daemons how they are: the hub over its socket, the listener over HTTP."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from waitbus_wire import HubStats


def hub_stats(sock_path: Path, timeout: float = 3.0) -> tuple[HubStats | None, str]:
    """(stats, "") from a live hub, else (None, why not). Sends the subscribe frame
    {"op": "stats"}; the hub answers one hub_stats frame and closes."""
    import msgspec

    from waitbus_wire import FrameDecoder, FrameError, HubStats, decode_server_message, encode_frame

    if not sock_path.exists():
        return None, f"no socket at {sock_path}"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + timeout
    try:
        s.settimeout(timeout)
        s.connect(str(sock_path))
        s.sendall(encode_frame(b'{"op":"stats"}'))
        decoder = FrameDecoder()
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            data = s.recv(65536)
            if not data:
                return None, "the hub closed the connection without answering"
            for body in decoder.feed(data):
                msg = decode_server_message(body)
                if isinstance(msg, HubStats):
                    return msg, ""
        return None, f"no answer within {timeout:g}s"
    except (ConnectionRefusedError, FileNotFoundError):
        return None, f"nothing listens on {sock_path} (stale socket file)"
    except TimeoutError:
        return None, f"no answer within {timeout:g}s"
    except (OSError, FrameError, msgspec.MsgspecError) as exc:
        return None, f"cannot talk to the hub at {sock_path}: {exc}"
    finally:
        s.close()


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

"""Ask the hub how it is: the subscribe frame {"op": "stats"} gets one hub_stats frame back."""

from __future__ import annotations

import json
import socket
import time
from typing import Any


def hub_stats(timeout: float = 2.0) -> dict[str, Any]:
    """{"reachable": True, ...the hub_stats keys} or {"reachable": False, "detail": why}.
    Blocks for at most `timeout` seconds; never starts a hub."""
    from waitbus_store import resolve_paths
    from waitbus_wire import FrameDecoder, FrameError, HubStats, decode_server_message, encode_frame

    path = resolve_paths().socket
    out: dict[str, Any] = {"reachable": False, "socket": str(path)}
    if not path.exists():
        out["detail"] = "no hub socket (no hub is running)"
        return out
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + timeout
    try:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(encode_frame(b'{"op":"stats"}'))
        decoder = FrameDecoder()
        while time.monotonic() < deadline:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            data = s.recv(65536)
            if not data:
                out["detail"] = "the hub closed the connection without answering"
                return out
            for body in decoder.feed(data):
                msg = decode_server_message(body)
                if isinstance(msg, HubStats):
                    stats = json.loads(body)
                    stats.pop("kind", None)
                    out.update(stats, reachable=True)
                    return out
        out["detail"] = f"no answer within {timeout:g}s"
    except (ConnectionRefusedError, FileNotFoundError):
        out["detail"] = "nothing listens on the socket (a stale socket file)"
    except TimeoutError:
        out["detail"] = f"no answer within {timeout:g}s"
    except (OSError, FrameError) as exc:
        out["detail"] = f"cannot talk to the hub: {exc}"
    except Exception as exc:  # a malformed frame (msgspec's errors are not ValueErrors)
        out["detail"] = f"the hub sent something unreadable: {exc}"
    finally:
        s.close()
    return out

"""Ask the hub how it is: the subscribe frame {"op": "stats"} gets one hub_stats frame
back and the hub closes. Never starts a hub."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from waitbus_wire import HubStats


def hub_stats(sock_path: Path | None = None, timeout: float = 3.0) -> tuple[HubStats | None, str]:
    """(stats, "") from a live hub, else (None, why not), within `timeout` seconds."""
    import msgspec

    from waitbus_store import PathError, check_peer, check_private_dir
    from waitbus_wire import FrameDecoder, FrameError, HubStats, decode_server_message, encode_frame

    from ._paths import paths

    path = sock_path or paths().socket
    if not path.exists():
        return None, f"no socket at {path} (no hub is running)"
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + timeout
    try:
        check_private_dir(str(path.parent))
        s.settimeout(timeout)
        s.connect(str(path))
        check_peer(s, str(path))
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
    except PathError as exc:
        return None, str(exc)
    except (ConnectionRefusedError, FileNotFoundError):
        return None, f"nothing listens on {path} (a stale socket file)"
    except TimeoutError:
        return None, f"no answer within {timeout:g}s"
    except (OSError, FrameError, UnicodeDecodeError, msgspec.MsgspecError) as exc:
        return None, f"cannot talk to the hub at {path}: {exc}"
    finally:
        s.close()


def hub_status(sock_path: Path | None = None, timeout: float = 3.0) -> dict[str, Any]:
    """The hub's stats as plain JSON data, the one shape `waitbus status --json` and the
    MCP `status` tool report: {"alive": True, "socket": ..., every hub_stats key} or
    {"alive": False, "socket": ..., "reason": why not}. Never starts a hub."""
    import msgspec

    from ._paths import paths

    path = sock_path or paths().socket
    stats, why = hub_stats(path, timeout)
    out: dict[str, Any] = {"alive": stats is not None, "socket": str(path)}
    if stats is None:
        out["reason"] = why
    else:  # to_builtins: the per-subscriber list holds structs too
        out.update({k: v for k, v in msgspec.to_builtins(stats).items() if k != "kind"})
    return out

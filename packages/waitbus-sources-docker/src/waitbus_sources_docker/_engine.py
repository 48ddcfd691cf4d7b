"""Where this machine's Docker Engine API listens: Docker, rootless Docker or podman."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path


def engine_sockets(env: Mapping[str, str] | None = None) -> list[Path]:
    """The places a Docker-API socket lives, most usual first: Docker's, rootless
    Docker's and rootless podman's (both in the user's runtime dir), rootful podman's,
    Docker Desktop's."""
    env = os.environ if env is None else env
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return [
        Path("/var/run/docker.sock"),
        Path(runtime) / "docker.sock",
        Path(runtime) / "podman" / "podman.sock",
        Path("/run/podman/podman.sock"),
        Path.home() / ".docker" / "run" / "docker.sock",  # Docker Desktop (macOS, Linux)
    ]


def find_engine(env: Mapping[str, str] | None = None) -> str | None:
    """The engine URL to use: `DOCKER_HOST` when set (a unix one only if its socket
    exists), else the first of engine_sockets() that is a socket; None when there is none."""
    env = os.environ if env is None else env
    host = env.get("DOCKER_HOST")
    if host:  # the user's choice: a unix socket must exist, anything else is taken as given
        return host if not host.startswith("unix://") or _is_socket(Path(host.removeprefix("unix://"))) else None
    return next((f"unix://{path}" for path in engine_sockets(env) if _is_socket(path)), None)


def _is_socket(path: Path) -> bool:
    try:
        return stat.S_ISSOCK(path.stat().st_mode)
    except OSError:
        return False

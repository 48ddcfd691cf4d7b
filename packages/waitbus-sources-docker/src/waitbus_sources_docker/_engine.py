"""Where this machine's Docker Engine API listens: Docker, rootless Docker or podman."""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path


def engine_sockets(env: Mapping[str, str] | None = None) -> list[Path]:
    """The places a Docker-API socket lives, most usual first: Docker's, rootless
    Docker's and rootless podman's (both in the user's runtime dir), rootful podman's."""
    env = os.environ if env is None else env
    runtime = env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return [
        Path("/var/run/docker.sock"),
        Path(runtime) / "docker.sock",
        Path(runtime) / "podman" / "podman.sock",
        Path("/run/podman/podman.sock"),
    ]


def find_engine(env: Mapping[str, str] | None = None) -> str | None:
    """The engine URL to use: `DOCKER_HOST` when set, else the first socket above that
    exists and is a socket; None when there is none (then the source has nothing to watch)."""
    env = os.environ if env is None else env
    if env.get("DOCKER_HOST"):
        return env["DOCKER_HOST"]
    for path in engine_sockets(env):
        try:
            if stat.S_ISSOCK(path.stat().st_mode):
                return f"unix://{path}"
        except OSError:
            continue
    return None

"""The real-podman fixtures of the docker source tests (tests/_support/docker.py)."""

from tests._support.docker import containers, podman, start_runner

__all__ = ["containers", "podman", "start_runner"]

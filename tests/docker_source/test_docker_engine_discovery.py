"""find_engine(): DOCKER_HOST, else the first real Docker-API socket (Docker, rootless
Docker, rootless podman, rootful podman, Docker Desktop). Real sockets bound in tmp."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from waitbus_sources_docker import engine_sockets, find_engine


@pytest.fixture
def bound() -> Iterator[list[socket.socket]]:
    held: list[socket.socket] = []
    yield held
    for s in held:
        s.close()


def listen(held: list[socket.socket], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    held.append(s)
    return path


def test_rootless_sockets_are_looked_for_in_the_runtime_dir(tmp_path: Path) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    found = engine_sockets(env)
    assert tmp_path / "docker.sock" in found and tmp_path / "podman" / "podman.sock" in found
    assert found.index(Path("/var/run/docker.sock")) < found.index(tmp_path / "podman" / "podman.sock")


def test_rootless_podman_is_found_when_nothing_before_it_exists(tmp_path: Path, bound) -> None:
    env = {"XDG_RUNTIME_DIR": str(tmp_path)}
    ours = listen(bound, tmp_path / "podman" / "podman.sock")
    earlier = [p for p in engine_sockets(env)[: engine_sockets(env).index(ours)] if p.is_socket()]
    assert find_engine(env) == f"unix://{earlier[0] if earlier else ours}"


def test_a_plain_file_is_not_a_socket(tmp_path: Path) -> None:
    (tmp_path / "docker.sock").write_text("")
    env = {"XDG_RUNTIME_DIR": str(tmp_path), "DOCKER_HOST": f"unix://{tmp_path}/docker.sock"}
    assert find_engine(env) is None


def test_docker_host_wins_and_a_unix_one_must_exist(tmp_path: Path, bound) -> None:
    sock = listen(bound, tmp_path / "mine.sock")
    assert find_engine({"DOCKER_HOST": f"unix://{sock}"}) == f"unix://{sock}"
    assert find_engine({"DOCKER_HOST": f"unix://{tmp_path}/missing.sock"}) is None
    assert find_engine({"DOCKER_HOST": "tcp://10.0.0.2:2375"}) == "tcp://10.0.0.2:2375"

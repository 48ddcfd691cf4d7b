"""The same-UID gate: a process of another user is refused by the kernel's word."""

from __future__ import annotations

import os
import socket

import pytest

from waitbus_store import resolve_paths
from waitbus_wire import encode_frame

NOBODY = 65534


def _as_other_user(path: str) -> str:
    """In a forked child running as `nobody`: connect, subscribe, report what happened."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        result = "?"
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            try:
                s.connect(path)
            except PermissionError:
                result = "EACCES"
            else:
                try:
                    s.sendall(encode_frame(b"{}"))
                    result = "EOF" if s.recv(4096) == b"" else "ACK"
                except (ConnectionResetError, BrokenPipeError):
                    result = "EOF"
        except BaseException as exc:
            result = f"error {exc!r}"
        os.write(w, result.encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    with os.fdopen(r) as f:
        return f.read()


@pytest.mark.timeout(60)
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a client as another user (nobody)")
def test_another_uid_cannot_reach_or_use_the_hub(hub, raw_client):
    p = resolve_paths()
    # With the shipped permissions the socket is unreachable for other users...
    assert _as_other_user(str(p.socket)) == "EACCES"
    # ...and even with the file permissions opened up, the hub's SO_PEERCRED check refuses them.
    os.chmod(p.runtime_dir, 0o711)
    os.chmod(p.socket, 0o666)
    try:
        assert _as_other_user(str(p.socket)) == "EOF"
    finally:
        os.chmod(p.runtime_dir, 0o700)
        os.chmod(p.socket, 0o600)
    client = raw_client()
    client.send_raw(encode_frame(b'{"op":"stats"}'))
    stats = client.next(5)
    assert stats is not None and stats["rejected_connections"] >= 1

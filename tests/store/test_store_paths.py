"""resolve_paths and Paths.ensure."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from waitbus_store import (
    DB_FILENAME,
    PathError,
    Paths,
    UnsafeRuntimeDir,
    check_private_dir,
    open_private,
    resolve_paths,
)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_env_overrides(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WAITBUS_STATE_DIR", str(tmp_path / "s"))
    monkeypatch.setenv("WAITBUS_RUNTIME_DIR", str(tmp_path / "r"))
    p = resolve_paths()
    assert p == Paths(state_dir=tmp_path / "s", runtime_dir=tmp_path / "r")
    assert p.db == tmp_path / "s" / DB_FILENAME == tmp_path / "s" / "events.db"
    assert p.socket == tmp_path / "r" / "broadcast.sock"
    assert p.doorbell == tmp_path / "r" / "doorbell.sock"
    assert p.hub_lock == tmp_path / "r" / "hub.lock"
    assert p.autostart_lock == tmp_path / "r" / "autostart.lock"
    assert p.secrets == tmp_path / "s" / "secrets.json"
    assert p.hub_log == tmp_path / "s" / "hub.log"


def test_env_is_reread_on_every_call(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("WAITBUS_STATE_DIR", str(tmp_path / "one"))
    first = resolve_paths()
    monkeypatch.setenv("WAITBUS_STATE_DIR", str(tmp_path / "two"))
    assert resolve_paths().state_dir == tmp_path / "two" != first.state_dir


def test_conftest_env_is_in_force(waitbus_env: dict[str, str]) -> None:
    p = resolve_paths()
    assert str(p.state_dir) == waitbus_env["WAITBUS_STATE_DIR"]
    assert str(p.runtime_dir) == waitbus_env["WAITBUS_RUNTIME_DIR"]


def test_runtime_default_is_xdg_runtime_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    if sys.platform == "darwin":
        pytest.skip("macOS uses a per-user temp dir")
    monkeypatch.delenv("WAITBUS_RUNTIME_DIR")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert resolve_paths().runtime_dir == tmp_path / "waitbus"


def test_empty_env_var_means_unset(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import sys

    if sys.platform == "darwin":
        pytest.skip("macOS uses a per-user temp dir")
    monkeypatch.setenv("WAITBUS_RUNTIME_DIR", "")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    assert resolve_paths().runtime_dir == tmp_path / "waitbus"


def test_ensure_creates_private_dirs(tmp_path: Path) -> None:
    p = Paths(state_dir=tmp_path / "a" / "state", runtime_dir=tmp_path / "rt")
    assert p.ensure() is p
    assert mode(p.state_dir) == 0o700
    assert mode(p.runtime_dir) == 0o700


def test_ensure_tightens_our_loose_dirs(tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.mkdir()
    loose.chmod(0o755)
    Paths(state_dir=loose, runtime_dir=tmp_path / "rt").ensure()
    assert mode(loose) == 0o700


def test_ensure_refuses_a_loose_runtime_dir_instead_of_repairing_it(tmp_path: Path) -> None:
    loose = tmp_path / "rt"
    loose.mkdir()
    loose.chmod(0o750)
    with pytest.raises(UnsafeRuntimeDir) as info:
        Paths(state_dir=tmp_path / "s", runtime_dir=loose).ensure()
    assert "mode 0750" in str(info.value) and f"chmod 700 {loose}" in str(info.value)
    assert mode(loose) == 0o750  # refused, not repaired: someone may already be inside


def test_check_private_dir_refuses_a_symlink_even_to_a_private_dir(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir(mode=0o700)
    link = tmp_path / "link"
    link.symlink_to(real)
    check_private_dir(str(real))
    with pytest.raises(UnsafeRuntimeDir, match="is a symlink"):
        check_private_dir(str(link))
    with pytest.raises(FileNotFoundError):
        check_private_dir(str(tmp_path / "missing"))


def test_open_private_never_follows_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("keep")
    (tmp_path / "lock").symlink_to(target)
    with pytest.raises(OSError) as info:
        open_private(str(tmp_path / "lock"), os.O_RDWR | os.O_CREAT)
    assert info.value.errno == errno.ELOOP
    assert target.read_text() == "keep"


def test_ensure_refuses_a_socket_path_too_long_for_af_unix(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 120)
    with pytest.raises(PathError) as info:
        Paths(state_dir=tmp_path / "s", runtime_dir=deep).ensure()
    msg = str(info.value)
    assert "too long for AF_UNIX" in msg
    assert "WAITBUS_RUNTIME_DIR" in msg
    assert str(deep / "broadcast.sock") in msg


def test_ensure_explains_an_unusable_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(PathError, match=r"cannot create .*file/state.*WAITBUS_STATE_DIR"):
        Paths(state_dir=blocker / "state", runtime_dir=tmp_path / "rt").ensure()


@pytest.mark.parametrize(
    "env",
    [
        {"XDG_STATE_HOME": "/srv/state", "HOME": "/home/u"},
        {"XDG_STATE_HOME": "", "HOME": "/home/u"},
        {"XDG_STATE_HOME": "relative/dir", "HOME": "/home/u"},
        {"HOME": "/home/u"},
        {"HOME": "/home/u/"},
        {"HOME": "relative-home"},
        {},
    ],
)
def test_default_state_dir_is_what_platformdirs_says(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """The producers' platformdirs-free shortcut must never disagree with platformdirs."""
    import platformdirs

    from waitbus_store._dirs import state_dir

    for name in ("WAITBUS_STATE_DIR", "XDG_STATE_HOME", "HOME"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert state_dir() == platformdirs.user_state_dir("waitbus", appauthor=False)
    assert resolve_paths().state_dir == Path(platformdirs.user_state_dir("waitbus", appauthor=False))

"""`waitbus init`, `install-systemd`, `install-launchd` and `install-credentials`, run as the
real console script. Nothing here touches ~: XDG_CONFIG_HOME (from conftest) and HOME point
into tmp, and a stand-in `systemctl` first on PATH keeps the real user manager out of it."""

from __future__ import annotations

import configparser
import os
import plistlib
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests._support import WAITBUS, run_cli
from waitbus_store import SCHEMA_VERSION, resolve_paths, schema_status

REPO = Path(__file__).resolve().parents[2]
UNITS = [
    "waitbus-listener.service",
    "waitbus-broadcast.socket",
    "waitbus-broadcast.service",
    "waitbus-etag-poll.service",
    "waitbus-etag-poll.timer",
    "waitbus-watchdog.service",
    "waitbus-watchdog.timer",
    "waitbus-forward@.service",
    "waitbus-bridge-nats.service",
    "waitbus-source-docker.service",
    "waitbus-source-fs.service",
]
PLISTS = [
    "dev.waitbus.listener",
    "dev.waitbus.broadcast",
    "dev.waitbus.etag-poll",
    "dev.waitbus.watchdog",
    "dev.waitbus.source-docker",
    "dev.waitbus.source-fs",
]
# Off unless they have something to watch (tests/cli/test_cli_local_source_units.py turns them on).
LOCAL_SOURCES = ("dev.waitbus.listener", "dev.waitbus.source-docker", "dev.waitbus.source-fs")


@pytest.fixture(autouse=True)
def no_docker_engine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever engine this machine runs, the installer here finds none."""
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("HOME", str(h))
    return h


def fake_tool(bin_dir: Path, name: str, body: str) -> Path:
    """A stand-in executable that logs its argv to <bin_dir>/<name>.log and runs `body`."""
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f'#!/bin/sh\necho "$*" >> "{bin_dir}/{name}.log"\n{body}\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def no_user_manager(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `systemctl` that behaves like one with no user bus (as in a container)."""
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "systemctl", 'echo "Failed to connect to bus: No medium found" >&2; exit 1')
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    return bin_dir


def unit_dir() -> Path:
    return Path(os.environ["XDG_CONFIG_HOME"]) / "systemd" / "user"


# -- init --------------------------------------------------------------------------------


def test_init_creates_dirs_store_and_scaffolds_then_is_idempotent():
    paths = resolve_paths()
    first = run_cli("init")
    assert first.returncode == 0, first.stderr
    for d in (paths.state_dir, paths.runtime_dir):
        assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert schema_status(paths.db) == (SCHEMA_VERSION, SCHEMA_VERSION)
    watched = (paths.state_dir / "watched_repos.txt").read_text()
    assert "owner/repo" in watched and all(line.startswith("#") for line in watched.splitlines())
    config = Path(os.environ["XDG_CONFIG_HOME"]) / "waitbus" / "config.toml"
    assert config.exists() and f"wrote {config}" in first.stdout
    assert "created the event store" in first.stdout
    # The example config it wrote is itself valid (every key commented out).
    assert run_cli("config", "validate", str(config)).returncode == 0

    second = run_cli("init")
    assert second.returncode == 0
    assert "everything is already in place" in second.stdout
    assert "wrote" not in second.stdout and "created" not in second.stdout


def test_init_never_overwrites_an_existing_config(tmp_path, monkeypatch):
    config = tmp_path / "mine.toml"
    config.write_text("[hub]\nheartbeat_sec = 7\n")
    monkeypatch.setenv("WAITBUS_CONFIG", str(config))
    assert run_cli("init").returncode == 0
    assert config.read_text() == "[hub]\nheartbeat_sec = 7\n"


def test_init_on_a_foreign_db_exits_4_and_leaves_it_alone():
    paths = resolve_paths()
    paths.state_dir.mkdir(parents=True)
    import sqlite3

    conn = sqlite3.connect(paths.db)
    conn.execute("CREATE TABLE theirs (x)")
    conn.commit()
    conn.close()
    before = paths.db.read_bytes()
    out = run_cli("init")
    assert out.returncode == 4
    assert "not a waitbus event store" in out.stderr
    assert paths.db.read_bytes() == before


# -- install-systemd -----------------------------------------------------------------------


def _parse_unit(path: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(path.read_text())
    return parser


@pytest.mark.usefixtures("no_user_manager")
def test_install_systemd_writes_eleven_correct_units_and_skips_systemctl():
    out = run_cli("install-systemd")
    assert out.returncode == 0, out.stderr
    assert "skipped: daemon-reload and enable" in out.stdout
    d = unit_dir()
    assert sorted(p.name for p in d.iterdir()) == sorted(UNITS)
    for name in UNITS:
        text = (d / name).read_text()
        assert "__" not in text.replace("# ", ""), f"unresolved placeholder in {name}"
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o644
    units = {name: _parse_unit(d / name) for name in UNITS}
    sock = units["waitbus-broadcast.socket"]["Socket"]
    assert sock["ListenStream"] == "%t/waitbus/broadcast.sock"
    assert sock["SocketMode"] == "0600"
    assert units["waitbus-etag-poll.timer"]["Timer"]["OnUnitActiveSec"] == "45s"
    assert units["waitbus-broadcast.service"]["Service"]["RuntimeDirectory"] == "waitbus"
    assert units["waitbus-broadcast.service"]["Service"]["StateDirectory"] == "waitbus"
    expected_exec = {
        "waitbus-broadcast.service": "broadcast serve",
        "waitbus-listener.service": "listener serve",
        "waitbus-etag-poll.service": "etag-poll run",
        "waitbus-watchdog.service": "silence-check run",
        "waitbus-forward@.service": "listener forward %I",
        "waitbus-bridge-nats.service": "bridge nats --config %E/waitbus/bridge-nats.toml",
        "waitbus-source-docker.service": "source docker",
        "waitbus-source-fs.service": "fs-watch run",
    }
    for name, args in expected_exec.items():
        assert units[name]["Service"]["ExecStart"] == f"{WAITBUS} {args}", name
    # Pinned to the state dir this CLI uses.
    assert f"WAITBUS_STATE_DIR={resolve_paths().state_dir}" in (d / "waitbus-listener.service").read_text()
    for timer in ("waitbus-etag-poll.timer", "waitbus-watchdog.timer"):
        assert units[timer]["Install"]["WantedBy"] == "timers.target"

    analyze = shutil.which("systemd-analyze")
    if analyze:
        files = [str(d / n) for n in UNITS]
        verify = subprocess.run(
            [analyze, "verify", "--user", *files], capture_output=True, text=True, timeout=60, env=os.environ.copy()
        )
        assert verify.returncode == 0, verify.stderr
        assert "Unknown" not in verify.stderr and "ignoring" not in verify.stderr, verify.stderr


@pytest.mark.usefixtures("no_user_manager")
def test_install_systemd_is_idempotent_and_repairs_an_edited_unit():
    assert run_cli("install-systemd").returncode == 0
    again = run_cli("install-systemd")
    assert again.returncode == 0
    assert again.stdout.count("unchanged") == 11 and "created" not in again.stdout
    edited = unit_dir() / "waitbus-watchdog.timer"
    pristine = edited.read_text()
    edited.write_text(pristine.replace("5min", "1h"))
    third = run_cli("install-systemd")
    assert f"updated    {edited}" in third.stdout and third.stdout.count("unchanged") == 10
    assert edited.read_text() == pristine


def test_install_systemd_dry_run_writes_nothing(no_user_manager):
    out = run_cli("install-systemd", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert not unit_dir().exists()
    assert out.stdout.count("would write") == 11
    assert "ListenStream=%t/waitbus/broadcast.sock" in out.stdout
    assert f"ExecStart={WAITBUS} broadcast serve" in out.stdout
    assert "would run: systemctl --user daemon-reload" in out.stdout
    assert not (no_user_manager / "systemctl.log").exists()


def test_install_systemd_reloads_and_enables_with_a_working_systemctl(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "systemctl", "exit 0")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    out = run_cli("install-systemd")
    assert out.returncode == 0, out.stderr
    calls = (bin_dir / "systemctl.log").read_text().splitlines()
    assert calls[-2:] == [
        "--user daemon-reload",
        "--user enable waitbus-broadcast.socket waitbus-etag-poll.timer waitbus-watchdog.timer",
    ]
    assert "opt-in" in out.stdout
    # With the webhook secret staged, the listener is enabled too (and --now starts them).
    assert run_cli("install-credentials", "github-webhook-secret", input="s3cret").returncode == 0
    assert run_cli("install-systemd", "--now").returncode == 0
    assert (bin_dir / "systemctl.log").read_text().splitlines()[-1] == (
        "--user enable --now waitbus-broadcast.socket waitbus-etag-poll.timer waitbus-watchdog.timer "
        "waitbus-listener.service"
    )


def test_install_systemd_reports_a_refusing_systemctl_with_exit_1(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "systemctl", 'case "$*" in *enable*) echo "Unit file does not exist" >&2; exit 1;; esac')
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    out = run_cli("install-systemd")
    assert out.returncode == 1
    assert "enable" in out.stderr and "Unit file does not exist" in out.stderr


def test_each_installer_refuses_the_other_platform(home, monkeypatch):
    monkeypatch.delenv("WAITBUS_TEST_PLATFORM", raising=False)
    if sys.platform.startswith("linux"):
        out = run_cli("install-launchd")
        assert out.returncode == 2 and "install-systemd" in out.stderr
    # WAITBUS_TEST_PLATFORM is the test-only override of sys.platform.
    mac = {**os.environ, "WAITBUS_TEST_PLATFORM": "darwin"}
    out = run_cli("install-systemd", env=mac)
    assert out.returncode == 2 and "install-launchd" in out.stderr
    linux = {**os.environ, "WAITBUS_TEST_PLATFORM": "linux"}
    out = run_cli("install-launchd", env=linux)
    assert out.returncode == 2 and "install-systemd" in out.stderr
    assert not unit_dir().exists() and not (home / "Library").exists()


# -- install-launchd (rendered on Linux through the WAITBUS_TEST_PLATFORM override) ---------


def test_install_launchd_dry_run_shows_resolved_plists_and_writes_nothing(home, monkeypatch):
    monkeypatch.setenv("WAITBUS_TEST_PLATFORM", "darwin")
    out = run_cli("install-launchd", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert not (home / "Library").exists()
    assert out.stdout.count("would write") == 6
    assert "__BIN_DIR__" not in out.stdout and "__LOG_DIR__" not in out.stdout and "__RUNTIME_DIR__" not in out.stdout
    assert f"<string>{WAITBUS}</string>" in out.stdout
    assert f"<string>{home}/Library/Logs/waitbus/broadcast.log</string>" in out.stdout
    assert (
        f"would run: launchctl bootstrap gui/{os.getuid()} {home}/Library/LaunchAgents/dev.waitbus.broadcast.plist"
        in (out.stdout)
    )
    # The listener is opt-in: not bootstrapped without its secret.
    assert "bootstrap" not in [line for line in out.stdout.splitlines() if "dev.waitbus.listener" in line][-1]


def test_install_launchd_writes_valid_plists_and_bootstraps_them(home, tmp_path, monkeypatch):
    monkeypatch.setenv("WAITBUS_TEST_PLATFORM", "darwin")
    bin_dir = tmp_path / "bin"
    fake_tool(bin_dir, "launchctl", 'case "$1" in print) exit 113;; esac; exit 0')
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    out = run_cli("install-launchd")
    assert out.returncode == 0, out.stderr
    agents = home / "Library" / "LaunchAgents"
    runtime = str(resolve_paths().runtime_dir)
    for label in PLISTS:
        data = plistlib.loads((agents / f"{label}.plist").read_bytes())
        assert data["Label"] == label
        assert data["ProgramArguments"][0] == WAITBUS
        assert data["EnvironmentVariables"]["WAITBUS_RUNTIME_DIR"] == runtime
        assert data["StandardErrorPath"].startswith(f"{home}/Library/Logs/waitbus/")
    assert plistlib.loads((agents / "dev.waitbus.etag-poll.plist").read_bytes())["StartInterval"] == 45
    assert plistlib.loads((agents / "dev.waitbus.broadcast.plist").read_bytes())["ProgramArguments"][1:] == [
        "broadcast",
        "serve",
    ]
    uid = os.getuid()
    boots = [c for c in (bin_dir / "launchctl.log").read_text().splitlines() if c.startswith("bootstrap")]
    assert boots == [f"bootstrap gui/{uid} {agents}/{label}.plist" for label in PLISTS if label not in LOCAL_SOURCES]
    again = run_cli("install-launchd")
    assert again.returncode == 0 and again.stdout.count("unchanged") == 6


# -- install-credentials --------------------------------------------------------------------


def test_credentials_are_stored_0600_rotated_and_never_echoed(tmp_path):
    secrets = resolve_paths().secrets
    first = run_cli("install-credentials", "github-webhook-secret", input="first-VALUE-123\n")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("stored github-webhook-secret")
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    value_file = tmp_path / "v"
    value_file.write_text("second-VALUE-456")
    second = run_cli("install-credentials", "github-webhook-secret", "--file", str(value_file))
    assert second.returncode == 0 and second.stdout.startswith("rotated github-webhook-secret")
    other = run_cli("install-credentials", "alertmanager-hmac", input="third-VALUE-789")
    assert other.returncode == 0
    import json

    assert json.loads(secrets.read_text()) == {
        "github-webhook-secret": "second-VALUE-456",
        "alertmanager-hmac": "third-VALUE-789",
    }
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
    for out in (first, second, other):
        for value in ("first-VALUE", "second-VALUE", "third-VALUE"):
            assert value not in out.stdout + out.stderr
    assert not list(secrets.parent.glob(".secrets-*")), "temp file left behind"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["install-credentials", "github-webhook-secret"], "  \n", "empty"),
        (["install-credentials", "Bad_Name"], "x", "bad name"),
        (["install-credentials", "github-webhook-secret", "--file", "/nonexistent/v"], None, "cannot read"),
    ],
)
def test_credentials_bad_input_exits_2_and_keeps_what_was_there(args, stdin, message):
    assert run_cli("install-credentials", "emit-token", input="keep-me").returncode == 0
    out = run_cli(*args, input=stdin)
    assert out.returncode == 2
    assert message in out.stderr
    import json

    assert json.loads(resolve_paths().secrets.read_text()) == {"emit-token": "keep-me"}


def test_unknown_credential_name_is_stored_with_a_warning():
    out = run_cli("install-credentials", "my-own-thing", input="v")
    assert out.returncode == 0
    assert "not a name waitbus uses" in out.stderr and "github-webhook-secret" in out.stderr


def test_credentials_refuse_a_loose_secrets_file():
    secrets = resolve_paths().secrets
    secrets.parent.mkdir(parents=True)
    secrets.write_text("{}")
    secrets.chmod(0o644)
    out = run_cli("install-credentials", "emit-token", input="v")
    assert out.returncode == 2 and "chmod 600" in out.stderr


def test_credentials_prompt_without_echo_on_a_terminal(reap):
    import select
    import time

    master, slave = os.openpty()
    # The child makes the pty its controlling terminal (setsid, then open it), so getpass
    # talks to /dev/tty exactly as it would in a real shell.
    launcher = (
        "import os, sys; os.setsid(); fd = os.open(sys.argv[1], os.O_RDWR); "
        "[os.dup2(fd, i) for i in (0, 1, 2)]; os.execv(sys.argv[2], sys.argv[2:])"
    )
    proc = reap(
        subprocess.Popen(
            [sys.executable, "-c", launcher, os.ttyname(slave), WAITBUS, "install-credentials", "emit-token"],
            env=os.environ.copy(),
        )
    )
    seen = b""
    sent = False
    deadline = time.monotonic() + 30
    try:
        while proc.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.2)[0]:
                try:
                    seen += os.read(master, 4096)
                except OSError:
                    break
            if not sent and b"not echoed" in seen:
                os.write(master, b"typed-SECRET-42\n")
                sent = True
        proc.wait(10)
        try:
            while select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 4096)
        except OSError:
            pass
    finally:
        os.close(master)
        os.close(slave)  # held open until now: reads on master never see EIO early
    assert sent, seen
    assert proc.returncode == 0, seen
    assert b"stored emit-token" in seen
    assert b"typed-SECRET" not in seen
    import json

    assert json.loads(resolve_paths().secrets.read_text()) == {"emit-token": "typed-SECRET-42"}


# -- the unit files ship in the wheel ---------------------------------------------------------


def test_units_are_found_from_the_repository_and_from_a_built_wheel(tmp_path):
    probe = "from waitbus_cli._units_install import units_root; print(units_root())"
    editable = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert editable.returncode == 0, editable.stderr
    found = Path(editable.stdout.strip())
    assert (found / "systemd" / "waitbus-broadcast.socket").exists()

    pytest.importorskip("build")
    pytest.importorskip("hatchling")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"),
         str(REPO / "packages" / "waitbus-cli")],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel,) = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        zf.extractall(tmp_path / "site")
    for unit in UNITS:
        assert f"waitbus_cli/units/systemd/{unit}" in names
    for label in PLISTS:
        assert f"waitbus_cli/units/launchd/{label}.plist" in names
    from_wheel = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "site")},
    )
    assert from_wheel.returncode == 0, from_wheel.stderr
    assert Path(from_wheel.stdout.strip()) == (tmp_path / "site" / "waitbus_cli" / "units").resolve()

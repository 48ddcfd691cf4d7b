"""`waitbus install-systemd` / `install-launchd`: render the shipped unit files with this
machine's paths, write only what changed, then hand them to the service manager."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from . import _exit

if TYPE_CHECKING:
    from waitbus import Supervision

SYSTEMD_UNITS = (
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
)
# Enabled on install; the listener only once its secret is staged (it is opt-in).
SYSTEMD_ENABLE = ("waitbus-broadcast.socket", "waitbus-etag-poll.timer", "waitbus-watchdog.timer")
LISTENER_UNIT = "waitbus-listener.service"
BRIDGE_UNIT = "waitbus-bridge-nats.service"  # opt-in: needs its config file (docs/bridge.md)
LAUNCHD_PLISTS = (
    "dev.waitbus.listener.plist",
    "dev.waitbus.broadcast.plist",
    "dev.waitbus.etag-poll.plist",
    "dev.waitbus.watchdog.plist",
    "dev.waitbus.source-docker.plist",
    "dev.waitbus.source-fs.plist",
)
LISTENER_PLIST = "dev.waitbus.listener.plist"
LISTENER_SECRET = "github-webhook-secret"  # noqa: S105 - a name, not a value


def current_platform() -> str:
    """sys.platform, overridable by WAITBUS_TEST_PLATFORM so tests can render the other
    platform's files (with --dry-run) on this one."""
    return os.environ.get("WAITBUS_TEST_PLATFORM") or sys.platform


def units_root() -> Path:
    """The shipped units: inside the installed package (wheel), else the repository's
    top-level units/ (an editable install maps only src/)."""
    here = Path(__file__).resolve().parent
    candidates = [here / "units"]
    if len(here.parents) > 3:  # <repo>/packages/waitbus-cli/src/waitbus_cli
        candidates.append(here.parents[3] / "units")
    for candidate in candidates:
        if (candidate / "systemd").is_dir() and (candidate / "launchd").is_dir():
            return candidate
    raise FileNotFoundError(f"the unit files are missing (looked in {here / 'units'}); reinstall waitbus-cli")


def waitbus_executable() -> Path:
    """The absolute path of the `waitbus` script of this installation."""
    beside = Path(sys.executable).with_name("waitbus")  # venv / uv tool / pipx: same bin dir
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside.absolute()
    found = shutil.which("waitbus")
    if found:
        return Path(found).absolute()
    raise FileNotFoundError(f"cannot find the `waitbus` executable next to {sys.executable} or on PATH")


def systemd_user_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def launch_agents_dir() -> Path:
    return Path.home() / "Library" / "LaunchAgents"


def _systemd_word(text: str) -> str:
    """One ExecStart/Environment word: `%` doubled (specifiers), quoted if it has spaces."""
    text = text.replace("%", "%%")
    if any(c.isspace() or c in "\"'\\;$" for c in text):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def render_systemd(name: str, waitbus: Path, state_dir: Path) -> str:
    text = (units_root() / "systemd" / name).read_text()
    return text.replace("__WAITBUS__", _systemd_word(str(waitbus))).replace(
        "__STATE_ENV__", _systemd_word(f"WAITBUS_STATE_DIR={state_dir}")
    )


def launchd_log_dir() -> Path:
    return Path.home() / "Library" / "Logs" / "waitbus"


def render_launchd(name: str, bin_dir: Path, log_dir: Path, runtime_dir: Path) -> str:
    from xml.sax.saxutils import escape

    text = (units_root() / "launchd" / name).read_text()
    for key, value in (("__BIN_DIR__", bin_dir), ("__LOG_DIR__", log_dir), ("__RUNTIME_DIR__", runtime_dir)):
        text = text.replace(key, escape(str(value)))
    return text


def _write(path: Path, text: str) -> None:
    """Atomic replace, so a unit is never seen half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, path)


def _write_changed(verb: str, plan: list[tuple[str, str]], files: dict[str, str], target: Path, *dirs: Path) -> bool:
    """Make `dirs` (private), then write each planned file that is not unchanged.
    False, after saying why on stderr, when the disk refuses."""
    try:
        for path in dirs:
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
        for name, state in plan:
            if state != "unchanged":
                _write(target / name, files[name])
    except OSError as exc:
        print(f"waitbus {verb}: cannot write {target}: {exc}", file=sys.stderr)
        return False
    return True


def _plan(files: dict[str, str], target: Path) -> list[tuple[str, str]]:
    """(name, 'created'|'updated'|'unchanged') for each file."""
    out = []
    for name, text in files.items():
        path = target / name
        state = "created" if not path.exists() else "unchanged" if path.read_text() == text else "updated"
        out.append((name, state))
    return out


def _listener_secret_staged() -> bool:
    from waitbus_store import resolve_paths

    from ._secrets import SecretsError, read_secrets

    try:
        return LISTENER_SECRET in read_secrets(resolve_paths().secrets)
    except (SecretsError, OSError):
        return False


def source_unit(name: str, *, darwin: bool) -> str:
    """The supervised unit of a local source (shipped in units/ for docker and fs)."""
    return f"dev.waitbus.source-{name}.plist" if darwin else f"waitbus-source-{name}.service"


def local_sources() -> dict[str, Supervision]:
    """Each installed source that can be supervised, and what its unit would do: the
    source decides from its own `[NAME]` config table (SourceSpec.supervise), so the CLI
    needs no knowledge of any source. A config that cannot be read counts as empty
    (doctor says why); a broken plugin counts as no sources (`source list` says why)."""
    from waitbus import installed_sources

    from ._config import load

    try:
        data = load().model_dump()
    except (ValueError, OSError):
        data = {}
    try:
        specs = installed_sources()
    except ValueError:
        return {}
    shipped = set(LAUNCHD_PLISTS) | set(SYSTEMD_UNITS)
    return {
        name: spec.supervise(data.get(name) or {})
        for name, spec in sorted(specs.items())
        if spec.supervise is not None and source_unit(name, darwin=False) in shipped
    }


def systemctl_usable() -> tuple[str | None, str]:
    """(systemctl path, "") if `systemctl --user` reaches a user manager, else (None, why not)."""
    exe = shutil.which("systemctl")
    if exe is None:
        return None, "systemctl is not on PATH"
    try:
        probe = subprocess.run(
            [exe, "--user", "show-environment"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"systemctl --user did not answer ({exc})"
    if probe.returncode != 0:
        reason = (probe.stderr.strip().splitlines() or ["no user manager"])[-1]
        return None, f"systemctl --user is not usable here: {reason}"
    return exe, ""


def _paths_or_exit(verb: str) -> tuple[Path, Path, Path]:
    """(waitbus executable, state dir, runtime dir) or SystemExit(2) with the reason."""
    from waitbus_store import PathError, resolve_paths

    try:
        exe = waitbus_executable()
        paths = resolve_paths()
        units_root()
    except (FileNotFoundError, PathError) as exc:
        print(f"waitbus {verb}: {exc}", file=sys.stderr)
        raise SystemExit(_exit.USAGE) from None
    return exe, paths.state_dir, paths.runtime_dir


def _report(plan: list[tuple[str, str]], target: Path, files: dict[str, str], dry_run: bool) -> None:
    for name, state in plan:
        if dry_run and state != "unchanged":
            print(f"would write {target / name} ({state.replace('created', 'new').replace('updated', 'changed')}):")
            print("    " + files[name].rstrip("\n").replace("\n", "\n    "))
        else:
            print(f"{'unchanged' if dry_run else state:9}  {target / name}")


def install_systemd(*, dry_run: bool, now: bool) -> int:
    if not current_platform().startswith("linux"):
        print(
            "waitbus install-systemd: systemd-user units are for Linux; on macOS run `waitbus install-launchd`",
            file=sys.stderr,
        )
        return _exit.USAGE
    exe, state_dir, _runtime = _paths_or_exit("install-systemd")
    target = systemd_user_dir()
    files = {name: render_systemd(name, exe, state_dir) for name in SYSTEMD_UNITS}
    plan = _plan(files, target)
    enable = list(SYSTEMD_ENABLE)
    if _listener_secret_staged():
        enable.append(LISTENER_UNIT)
    sources = local_sources()
    enable += [source_unit(name, darwin=False) for name, sup in sources.items() if sup.argv is not None]
    commands = [
        ["systemctl", "--user", "daemon-reload"],
        ["systemctl", "--user", "enable", *(["--now"] if now else [])],
    ]
    commands[1] += enable
    _report(plan, target, files, dry_run)
    if dry_run:
        for cmd in commands:
            print(f"would run: {' '.join(cmd)}")
        return _exit.OK
    if not _write_changed("install-systemd", plan, files, target):
        return _exit.STORE
    systemctl, why = systemctl_usable()
    if systemctl is None:
        print(f"skipped: daemon-reload and enable ({why}).\nRun these yourself in your login session:")
        for cmd in commands:
            print(f"    {' '.join(cmd)}")
        return _exit.OK
    for cmd in commands:
        done = subprocess.run([systemctl, *cmd[1:]], capture_output=True, text=True, timeout=60, check=False)
        if done.returncode != 0:
            print(f"waitbus install-systemd: `{' '.join(cmd)}` failed: {done.stderr.strip()}", file=sys.stderr)
            return _exit.FAILED
        print(f"ran: {' '.join(cmd)}")
    if LISTENER_UNIT not in enable:
        print(f"note: {LISTENER_UNIT} is opt-in: stage {LISTENER_SECRET} with install-credentials, then re-run.")
    print(f"note: {BRIDGE_UNIT} is opt-in: configure it (docs/bridge.md), then systemctl --user enable --now it.")
    _note_local_sources(sources)
    if not now:
        print(f"start now (or at next login): systemctl --user start {' '.join(SYSTEMD_ENABLE)}")
    return _exit.OK


def _note_local_sources(sources: dict[str, Supervision]) -> None:
    for name, sup in sources.items():
        if sup.argv is not None:
            print(f"note: the {name} source watches {sup.detail}.")
        else:
            print(f"note: the {name} source is off: {sup.detail}; re-run once it has something to watch.")


def _launchctl(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["launchctl", *args], capture_output=True, text=True, timeout=30, check=False)


def install_launchd(*, dry_run: bool) -> int:
    if current_platform() != "darwin":
        print(
            "waitbus install-launchd: LaunchAgents are for macOS; on Linux run `waitbus install-systemd`",
            file=sys.stderr,
        )
        return _exit.USAGE
    exe, _state, runtime_dir = _paths_or_exit("install-launchd")
    target, log_dir = launch_agents_dir(), launchd_log_dir()
    files = {name: render_launchd(name, exe.parent, log_dir, runtime_dir) for name in LAUNCHD_PLISTS}
    plan = _plan(files, target)
    sources = local_sources()
    off = {LISTENER_PLIST} if not _listener_secret_staged() else set()
    off |= {source_unit(name, darwin=True) for name, sup in sources.items() if sup.argv is None}
    load = [n for n in LAUNCHD_PLISTS if n not in off]
    domain = f"gui/{os.getuid()}"
    _report(plan, target, files, dry_run)
    if dry_run:
        for name in load:
            print(f"would run: launchctl bootstrap {domain} {target / name}")
        return _exit.OK
    if not _write_changed("install-launchd", plan, files, target, log_dir):
        return _exit.STORE
    if shutil.which("launchctl") is None:
        print("skipped: launchctl bootstrap (launchctl is not on PATH); run in your login session:")
        for name in load:
            print(f"    launchctl bootstrap {domain} {target / name}")
        return _exit.OK
    states = dict(plan)
    for name in load:
        label = f"{domain}/{name.removesuffix('.plist')}"
        loaded = _launchctl(["print", label]).returncode == 0
        if loaded and states[name] == "unchanged":
            print(f"loaded     {label}")
            continue
        if loaded:  # a changed plist only takes effect after a reload
            _launchctl(["bootout", label])
        done = _launchctl(["bootstrap", domain, str(target / name)])
        if done.returncode != 0:
            print(f"waitbus install-launchd: bootstrap of {name} failed: {done.stderr.strip()}", file=sys.stderr)
            return _exit.FAILED
        print(f"ran: launchctl bootstrap {domain} {target / name}")
    _note_local_sources(sources)
    return _exit.OK


def listener_enabled() -> bool:
    """Whether the service manager will run the listener (so its secret is required)."""
    if current_platform() == "darwin":
        if not (launch_agents_dir() / LISTENER_PLIST).exists():
            return False
        if shutil.which("launchctl") is None:
            return True
        return _launchctl(["print", f"gui/{os.getuid()}/dev.waitbus.listener"]).returncode == 0
    return (systemd_user_dir() / "default.target.wants" / LISTENER_UNIT).exists()


def installed_units() -> tuple[Path, list[str], list[str]]:
    """(unit dir, installed names, names whose content differs from a fresh render)."""
    from waitbus_store import resolve_paths

    darwin = current_platform() == "darwin"
    target = launch_agents_dir() if darwin else systemd_user_dir()
    names = LAUNCHD_PLISTS if darwin else SYSTEMD_UNITS
    present = [n for n in names if (target / n).exists()]
    stale: list[str] = []
    try:
        exe, paths = waitbus_executable(), resolve_paths()
        for n in present:
            fresh = (
                render_launchd(n, exe.parent, launchd_log_dir(), paths.runtime_dir)
                if darwin
                else render_systemd(n, exe, paths.state_dir)
            )
            if (target / n).read_text() != fresh:
                stale.append(n)
    except (FileNotFoundError, OSError):
        pass
    return target, present, stale

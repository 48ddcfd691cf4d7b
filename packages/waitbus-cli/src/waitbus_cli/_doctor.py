"""`waitbus doctor`: one line per check, ok / WARN / FAIL; exit 1 on any FAIL.

Secrets are reported present or absent by name only: their values are never read
into anything that is printed.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import _exit

OK, WARN, FAIL = "ok", "WARN", "FAIL"


@dataclass
class Check:
    name: str
    status: str
    detail: str


def _check_dir(name: str, d: Path, *, missing: Check) -> Check:
    if not d.exists():
        return missing
    if not d.is_dir():
        return Check(name, FAIL, f"{d} is not a directory")
    if not os.access(d, os.W_OK | os.X_OK):
        return Check(name, FAIL, f"{d} is not writable by uid {os.getuid()}")
    mode = d.stat().st_mode & 0o777
    if mode & 0o077:
        return Check(name, WARN, f"{d} is mode {mode:o}, not 700 (chmod 700 {d})")
    return Check(name, OK, f"{d} (700, writable)")


def check_paths(paths: Any) -> list[Check]:
    return [
        _check_dir(
            "state dir",
            paths.state_dir,
            missing=Check("state dir", FAIL, f"{paths.state_dir} does not exist (run `waitbus init`)"),
        ),
        _check_dir(
            "runtime dir",
            paths.runtime_dir,
            missing=Check("runtime dir", OK, f"{paths.runtime_dir} not created yet (the hub creates it)"),
        ),
    ]


def check_watched_repos(path: Path) -> Check:
    """The ETag poller's list (README: doctor prints where it is)."""
    import re

    if not path.exists():
        return Check("watched repos", OK, f"{path} absent (run `waitbus init` to scaffold it; only the poller uses it)")
    try:
        lines = [ln.strip() for ln in path.read_text().splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        return Check("watched repos", FAIL, f"{path} cannot be read ({exc})")
    repos = [ln for ln in lines if ln and not ln.startswith("#")]
    bad = [ln for ln in repos if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", ln)]
    if bad:
        return Check("watched repos", WARN, f"{path}: not owner/repo: {', '.join(bad[:5])}")
    return Check("watched repos", OK, f"{path}: {len(repos)} repo{'' if len(repos) == 1 else 's'}")


def check_store(db: Path) -> Check:
    from waitbus_store import SCHEMA_VERSION, StoreError, open_reader, schema_status

    if not db.exists():
        return Check("store", FAIL, f"no event store at {db} (run `waitbus init`)")
    try:
        version, wanted = schema_status(db)
        reader = open_reader(db)
        problems: list[str] = []
        if reader is not None:
            try:
                problems = reader.integrity_check(quick=True)
            finally:
                reader.close()
    except StoreError as exc:
        return Check("store", FAIL, str(exc))
    if problems:
        return Check("store", FAIL, f"{db} is damaged ({problems[0]}); move it away and run `waitbus init`")
    if version < wanted:
        return Check("store", WARN, f"{db} is at schema v{version}, v{wanted} is current (run `waitbus db migrate`)")
    mode = db.stat().st_mode & 0o777
    if mode & 0o077:
        return Check("store", WARN, f"{db} is mode {mode:o}, not 600 (chmod 600 {db})")
    return Check("store", OK, f"{db} (schema v{SCHEMA_VERSION}, integrity ok)")


def check_secrets(path: Path, listener_on: bool) -> list[Check]:
    from ._secrets import KNOWN
    from ._units_install import LISTENER_SECRET

    names: set[str] = set()
    out: list[Check] = []
    if not path.exists():
        out.append(Check("secrets file", OK, f"{path} absent: no secrets staged"))
    else:
        mode = path.stat().st_mode & 0o777
        try:
            data = json.loads(path.read_text())
            names = set(data) if isinstance(data, dict) else set()
            if not isinstance(data, dict):
                out.append(Check("secrets file", FAIL, f"{path} is not a JSON object"))
        except (OSError, ValueError) as exc:
            out.append(Check("secrets file", FAIL, f"{path} cannot be read as JSON ({exc.__class__.__name__})"))
        if mode & 0o077:
            out.append(Check("secrets file", FAIL, f"{path} is mode {mode:o}; it must be 600 (chmod 600 {path})"))
        elif not out:
            out.append(Check("secrets file", OK, f"{path} (600)"))
    for name in KNOWN:
        if name in names:
            out.append(Check(f"secret {name}", OK, "present"))
        elif name == LISTENER_SECRET and listener_on:
            out.append(
                Check(
                    f"secret {name}", FAIL, f"absent, but the listener is enabled: waitbus install-credentials {name}"
                )
            )
        else:
            out.append(Check(f"secret {name}", OK, "absent (optional)"))
    for name in sorted(names - set(KNOWN)):
        out.append(Check(f"secret {name}", OK, "present (not a name waitbus uses)"))
    return out


def check_units() -> list[Check]:
    from ._units_install import LAUNCHD_PLISTS, SYSTEMD_UNITS, current_platform, installed_units, systemctl_usable

    darwin = current_platform() == "darwin"
    verb = "install-launchd" if darwin else "install-systemd"
    target, present, stale = installed_units()
    total = len(LAUNCHD_PLISTS if darwin else SYSTEMD_UNITS)
    if not present:
        return [Check("units", WARN, f"none installed in {target} (run `waitbus {verb}`; or rely on autostart)")]
    out = []
    if len(present) < total:
        out.append(Check("units", WARN, f"{len(present)}/{total} installed in {target} (re-run `waitbus {verb}`)"))
    elif stale:
        out.append(Check("units", WARN, f"out of date: {', '.join(stale)} (re-run `waitbus {verb}`)"))
    else:
        out.append(Check("units", OK, f"{total}/{total} installed in {target}"))
    if darwin:
        return out
    systemctl, _why = systemctl_usable()
    wants = [
        p.name
        for w in ("sockets.target.wants", "timers.target.wants", "default.target.wants")
        for p in (target / w).glob("waitbus-*")
    ]
    if systemctl is None or not wants:
        return out
    import subprocess

    for unit in sorted(wants):
        try:
            done = subprocess.run(
                [systemctl, "--user", "is-active", unit], capture_output=True, text=True, timeout=10, check=False
            )
            state = done.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            state = ""
        if state == "active":
            out.append(Check(f"unit {unit}", OK, "enabled, active"))
        else:
            out.append(
                Check(f"unit {unit}", FAIL, f"enabled but {state or 'not active'}: systemctl --user start {unit}")
            )
    return out


def check_local_sources() -> list[Check]:
    """Each supervised local source's unit: on when the source has something to watch."""
    from ._units_install import current_platform, launch_agents_dir, local_sources, source_unit, systemd_user_dir

    darwin = current_platform() == "darwin"
    verb = "install-launchd" if darwin else "install-systemd"
    out = []
    for name, sup in local_sources().items():
        unit = source_unit(name, darwin=darwin)
        installed = (
            (launch_agents_dir() / unit).exists()
            if darwin
            else (systemd_user_dir() / "default.target.wants" / unit).exists()
        )
        if sup.argv is None:
            out.append(Check(f"source {name}", OK, f"off: {sup.detail}"))
        elif installed:
            out.append(Check(f"source {name}", OK, f"{sup.detail}; {unit} {'installed' if darwin else 'enabled'}"))
        else:
            out.append(
                Check(f"source {name}", WARN, f"{sup.detail}, but {unit} is not enabled: re-run `waitbus {verb}`")
            )
    return out


def check_hub(sock: Path, socket_unit_enabled: bool) -> Check:
    from waitbus import hub_stats

    stats, why = hub_stats(sock)
    if stats is not None:
        return Check("hub", OK, f"pid {stats.pid}, {stats.subscribers} subscribers, up {stats.uptime_sec:.0f}s")
    if socket_unit_enabled:
        return Check("hub", FAIL, f"{why}; the socket unit is enabled: systemctl --user start waitbus-broadcast.socket")
    return Check("hub", WARN, f"not running: {why} (a wait autostarts one; or waitbus broadcast serve)")


def check_listener(port: int, enabled: bool) -> Check:
    from ._hubinfo import listener_health

    up, detail = listener_health(port)
    if up:
        return Check("listener", OK, detail)
    if enabled:
        return Check("listener", FAIL, f"its unit is enabled but {detail}")
    return Check("listener", OK, "not running (opt-in; its unit is not enabled)")


def check_binary() -> Check:
    found = shutil.which("waitbus")
    if found is None:
        return Check("waitbus on PATH", WARN, f"not found; it is at {Path(sys.executable).with_name('waitbus')}")
    return Check("waitbus on PATH", OK, found)


def run_doctor(as_json: bool) -> int:
    from waitbus_store import resolve_paths

    from ._config import load
    from ._config_cmd import describe_error
    from ._units_install import current_platform, listener_enabled, systemd_user_dir

    paths = resolve_paths()
    checks = check_paths(paths)
    checks.append(check_store(paths.db))
    checks.append(check_watched_repos(paths.state_dir / "watched_repos.txt"))
    port = 9000
    try:
        port = load().listener.port
        checks.append(Check("config", OK, "valid (waitbus config validate prints it)"))
    except (ValueError, OSError) as exc:
        checks.append(Check("config", FAIL, "; ".join(describe_error(exc))))
    listener_on = listener_enabled()
    checks += check_secrets(paths.secrets, listener_on)
    checks += check_units()
    checks += check_local_sources()
    socket_enabled = (
        current_platform() != "darwin"
        and (systemd_user_dir() / "sockets.target.wants" / "waitbus-broadcast.socket").exists()
    )
    checks.append(check_hub(paths.socket, socket_enabled))
    checks.append(check_listener(port, listener_on))
    checks.append(check_binary())
    failed = sum(c.status == FAIL for c in checks)
    if as_json:
        print(json.dumps({"ok": not failed, "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        for c in checks:
            print(f"{c.status:4}  {c.name}: {c.detail}")
        warned = sum(c.status == WARN for c in checks)
        print(f"doctor: {failed} FAIL, {warned} WARN")
    return _exit.FAILED if failed else _exit.OK

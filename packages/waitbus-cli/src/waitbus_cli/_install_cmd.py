"""Setup verbs: `init`, `install-systemd`, `install-launchd`, `install-credentials NAME`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from . import _exit

WATCHED_REPOS_SCAFFOLD = """\
# Repositories the ETag poller checks every 45 s (for repos whose webhooks you cannot
# receive: upstreams, forks). One owner/repo per line, e.g.
#   astrogilda/waitbus
# Blank lines and lines starting with # are ignored.
"""


def _write_new(path: Path, text: str, mode: int) -> bool:
    """Create `path` with `text` unless it exists; never overwrites. True if written."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        f.write(text)
    return True


def run_init() -> int:
    from waitbus_store import PathError, Store, StoreError, resolve_paths

    from ._config_cmd import example_toml
    from ._config_file import config_path

    paths = resolve_paths()
    did: list[str] = []
    existed = {d: d.is_dir() for d in (paths.state_dir, paths.runtime_dir)}
    try:
        paths.ensure()
    except PathError as exc:
        print(f"waitbus init: {exc}", file=sys.stderr)
        return _exit.USAGE
    for d, was in existed.items():
        if not was:
            did.append(f"created {d} (0700)")
    db_existed = paths.db.exists()
    try:
        with Store(paths.db) as store:
            before, after = store.schema_before, store.schema_version
    except StoreError as exc:
        print(f"waitbus init: {exc}", file=sys.stderr)
        return _exit.STORE
    if not db_existed:
        did.append(f"created the event store {paths.db} (schema v{after})")
    elif before != after:
        did.append(f"migrated the event store {paths.db} from schema v{before} to v{after}")
    scaffolds = [
        (paths.state_dir / "watched_repos.txt", WATCHED_REPOS_SCAFFOLD, 0o600),
        (config_path(), example_toml(), 0o600),
    ]
    for path, text, mode in scaffolds:
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            if _write_new(path, text, mode):
                did.append(f"wrote {path}")
        except OSError as exc:
            print(f"waitbus init: cannot write {path}: {exc}", file=sys.stderr)
            return _exit.STORE
    for line in did:
        print(line)
    if not did:
        print(f"everything is already in place: {paths.state_dir} (store schema v{after}), {config_path()}")
    return _exit.OK


def _read_value(name: str, file: Path | None) -> str:
    """The secret from --file (`-` = stdin), piped stdin, or a no-echo prompt on a TTY."""
    if file is not None and str(file) != "-":
        return file.read_bytes().decode()
    if file is None and sys.stdin.isatty():
        import getpass

        return getpass.getpass(f"value for {name} (not echoed): ")
    return sys.stdin.buffer.read().decode()


def run_install_credentials(name: str, file: Path | None) -> int:
    from waitbus_store import resolve_paths

    from ._secrets import KNOWN, NAME_RE, SecretsError, store_secret

    if not NAME_RE.match(name):
        print(f"waitbus install-credentials: bad name {name!r}: use lowercase letters, digits and '-'", file=sys.stderr)
        return _exit.USAGE
    if name not in KNOWN:
        known = ", ".join(sorted(KNOWN))
        print(f"waitbus install-credentials: warning: {name!r} is not a name waitbus uses ({known})", file=sys.stderr)
    try:
        value = _read_value(name, file)
    except (OSError, UnicodeDecodeError, EOFError) as exc:
        print(f"waitbus install-credentials: cannot read the value: {exc}", file=sys.stderr)
        return _exit.USAGE
    path = resolve_paths().secrets
    try:
        rotated = store_secret(path, name, value)
    except SecretsError as exc:
        print(f"waitbus install-credentials: {exc}", file=sys.stderr)
        return _exit.USAGE
    except OSError as exc:
        print(f"waitbus install-credentials: cannot write {path}: {exc}", file=sys.stderr)
        return _exit.STORE
    print(f"{'rotated' if rotated else 'stored'} {name} in {path} (0600)")
    if name == "github-webhook-secret":
        if rotated:
            print("next: update the GitHub webhook secret, then systemctl --user restart waitbus-listener.service")
        else:
            print("next: waitbus install-systemd (or install-launchd) enables the webhook listener now that it is set")
    return _exit.OK


def register(app: typer.Typer) -> None:
    @app.command()
    def init() -> None:
        """One-time setup: state and runtime dirs (0700), the event store, scaffold files.

        Creates watched_repos.txt in the state dir and an example config file if there is
        none (never overwrites). Safe to run again: it then says everything is in place.

        Example: waitbus init

        Exit codes: 0 done, 2 a directory cannot be used, 4 the store or a file cannot be written.
        """
        raise typer.Exit(run_init())

    @app.command("install-systemd")
    def install_systemd(
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="Print the units and commands; change nothing.")
        ] = False,
        now: Annotated[bool, typer.Option("--now", help="Also start the enabled units now (enable --now).")] = False,
    ) -> None:
        """Linux: write the 9 systemd-user units to ~/.config/systemd/user and enable them.

        Enables waitbus-broadcast.socket and the etag-poll and watchdog timers (plus the
        listener once github-webhook-secret is staged) after a daemon-reload. Unchanged
        files are left alone; without a usable `systemctl --user` it writes the files and
        says what to run.

        Example: waitbus install-systemd --dry-run

        Exit codes: 0 done (or dry run), 1 systemctl refused, 2 not Linux or no waitbus executable, 4 cannot write.
        """
        from ._units_install import install_systemd as run

        raise typer.Exit(run(dry_run=dry_run, now=now))

    @app.command("install-launchd")
    def install_launchd(
        dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the resolved plists; change nothing.")] = False,
    ) -> None:
        """macOS: write the 4 LaunchAgent plists to ~/Library/LaunchAgents and bootstrap them.

        Resolves the bin, log (~/Library/Logs/waitbus) and runtime paths in the plists, then
        runs `launchctl bootstrap gui/$UID <plist>` (the listener only once
        github-webhook-secret is staged). Unchanged, loaded agents are left alone.

        Example: waitbus install-launchd --dry-run

        Exit codes: 0 done (or dry run), 1 launchctl refused, 2 not macOS or no waitbus executable, 4 cannot write.
        """
        from ._units_install import install_launchd as run

        raise typer.Exit(run(dry_run=dry_run))

    @app.command("install-credentials")
    def install_credentials(
        name: Annotated[str, typer.Argument(help="Secret name, e.g. github-webhook-secret, alertmanager-hmac.")],
        file: Annotated[
            Path | None, typer.Option("--file", help="Read the value from this file (- for stdin).")
        ] = None,
    ) -> None:
        """Stage a secret into the 0600 secrets.json in the state dir (atomic replace).

        The value comes from --file, from stdin, or from a no-echo prompt on a terminal;
        never from the command line, and it is never printed. Running it again rotates it.

        \b
        Example: openssl rand -hex 32 | waitbus install-credentials github-webhook-secret

        Exit codes: 0 stored or rotated, 2 bad name, empty value or unreadable input, 4 cannot write.
        """
        raise typer.Exit(run_install_credentials(name, file))

"""Daemon entry points and the demo: thin doors to the packages that own them.

The source packages' own jobs (`etag-poll run`, `watchdog-check run`, ...) come from the
`waitbus.daemons.v1` entry points only: the CLI names no source. A door whose package
cannot be imported, or lacks its function, says so on stderr, naming what to install,
and exits 2; it never pretends.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from . import _exit

_PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def daemon_doors() -> list[tuple[str, str, str, str, str]]:
    """(group, command, module, function, distribution) for each `waitbus.daemons.v1`
    entry point named `GROUP.COMMAND`. Only metadata is read: nothing is imported."""
    from importlib.metadata import entry_points

    from waitbus import DAEMONS_GROUP

    doors = []
    for ep in entry_points(group=DAEMONS_GROUP):
        group, _, command = ep.name.partition(".")
        dist = ep.dist.name if ep.dist is not None else ep.module.partition(".")[0]
        if group and command and ep.attr:
            doors.append((group, command, ep.module, ep.attr, dist))
    return sorted(doors)


def door(verb: str, target: tuple[str, str, str], argv: list[str], ctx: typer.Context) -> int:
    """Call the function behind `verb` with argv (its own `--help` included). Exit 2 naming
    the package to install when it cannot be imported or lacks the function; `--help`
    then still prints this door's own help."""
    import importlib

    module, func, dist = target
    fn = None
    try:
        fn = getattr(importlib.import_module(module), func, None)
    except ImportError as exc:
        if exc.name is not None and exc.name != module and not module.startswith(exc.name + "."):
            problem = f"{dist} is installed but cannot be imported ({exc})"
        else:
            problem = f"needs {dist}, which is not installed: pip install {dist}"
    else:
        problem = f"the installed {dist} has no {func}(); install one that does: pip install -U {dist}"
    if callable(fn):
        code = fn(argv)
        return code if isinstance(code, int) else _exit.OK
    if any(a in ("-h", "--help") for a in argv):
        print(ctx.get_help())
        print(f"\nIts own options are not listed: {problem}")
        return _exit.OK
    print(f"waitbus {verb}: {problem}", file=sys.stderr)
    return _exit.USAGE


def forward(repo: str) -> int:
    """exec `gh webhook forward` for `repo` with the staged secret (the forward@ unit's command)."""
    import os
    import shutil

    from waitbus_store import resolve_paths

    from ._config_cmd import describe_error
    from ._secrets import SecretsError, read_secrets

    if not _REPO_RE.match(repo):
        print(f"waitbus listener forward: {repo!r} is not owner/repo", file=sys.stderr)
        return _exit.USAGE
    path = resolve_paths().secrets
    try:
        secret = read_secrets(path).get("github-webhook-secret")
    except SecretsError as exc:
        print(f"waitbus listener forward: {exc}", file=sys.stderr)
        return _exit.USAGE
    if not secret:
        print(
            f"waitbus listener forward: no github-webhook-secret in {path}; "
            "stage it with: waitbus install-credentials github-webhook-secret",
            file=sys.stderr,
        )
        return _exit.USAGE
    gh = shutil.which("gh")
    if gh is None:
        print("waitbus listener forward: the GitHub CLI `gh` is not on PATH (https://cli.github.com)", file=sys.stderr)
        return _exit.USAGE
    from ._config import load

    try:
        port = load().listener.port
    except (ValueError, OSError) as exc:
        print(f"waitbus listener forward: bad configuration: {'; '.join(describe_error(exc))}", file=sys.stderr)
        return _exit.USAGE
    args = [
        gh,
        "webhook",
        "forward",
        f"--repo={repo}",
        "--events=workflow_run,workflow_job",
        f"--url=http://127.0.0.1:{port}/webhook",
        f"--secret={secret}",  # gh takes it only as a flag
    ]
    sys.stdout.flush()
    os.execv(gh, args)  # noqa: S606 - argv list, no shell: replaces this process with gh


def _add_door(sub: typer.Typer, verb: str, command: str, target: tuple[str, str, str]) -> None:
    module, func, dist = target

    def run(ctx: typer.Context) -> None:
        raise typer.Exit(door(verb, target, list(ctx.args), ctx))

    run.__doc__ = (
        f"`{module}.{func}(ARGS)` from {dist}; arguments go to it (`waitbus {verb} --help` lists its options).\n\n"
        f"Exit codes: its own; 2 when {dist} cannot be imported or lacks {func}()."
    )
    sub.command(command, context_settings=_PASSTHROUGH, add_help_option=False)(run)


def register(app: typer.Typer) -> None:
    broadcast = typer.Typer(help="The broadcast hub daemon.", no_args_is_help=True)
    app.add_typer(broadcast, name="broadcast")

    @broadcast.command("serve", context_settings=_PASSTHROUGH, add_help_option=False)
    def broadcast_serve(ctx: typer.Context) -> None:
        """Run the hub in the foreground (SIGTERM drains and exits 0). `--help` lists its options.

        Options left off the command line come from the config file ([hub] heartbeat_sec and
        lag_limit_bytes when set, [retention] always). Exit codes: 0 clean stop, 2 cannot start
        or bad config, 3 another hub already serves this runtime dir.
        """
        from ._serve import broadcast_serve as run

        raise typer.Exit(run(list(ctx.args)))

    listener = typer.Typer(
        help="The loopback webhook listener (GitHub, Alertmanager, POST /emit).", no_args_is_help=True
    )
    app.add_typer(listener, name="listener")

    @listener.command("serve")
    def listener_serve(
        port: Annotated[
            int | None, typer.Option(min=0, max=65535, help="Port on 127.0.0.1 (default: config listener.port, 9000).")
        ] = None,
        log_level: Annotated[str, typer.Option(help="DEBUG, INFO (one line per request), WARNING or ERROR.")] = "INFO",
    ) -> None:
        """HTTP on 127.0.0.1: GET /healthz, GET /metrics, POST /emit and every installed source's routes.

        Bodies over 10 MiB get 413, chunked or length-less POSTs 411. POST /emit needs the bearer
        token staged with `waitbus install-credentials emit-token`. The secrets file is read at
        start: restart after staging a secret. SIGTERM/SIGINT finish requests in flight, exit 0.
        See docs/listener.md.

        Example: waitbus listener serve --port 9000

        Exit codes: 0 stopped by a signal; 2 port in use, route clash, broken plugin, bad config or secrets file.
        """
        from ._listener_run import serve_listener

        raise typer.Exit(serve_listener(port, log_level))

    @listener.command("forward")
    def listener_forward(
        repo: Annotated[str, typer.Argument(help="owner/repo whose workflow_run/workflow_job webhooks to forward.")],
    ) -> None:
        """Forward a repo's GitHub webhooks to the local listener with `gh webhook forward`.

        Reads github-webhook-secret from secrets.json (never from argv of waitbus) and execs
        gh with it; the waitbus-forward@.service unit runs this, one instance per repo.

        Example: waitbus listener forward astrogilda/waitbus

        Exit codes: gh's own; 2 bad repo name, no staged secret, gh not on PATH, bad config.
        """
        raise typer.Exit(forward(repo))

    groups: dict[str, typer.Typer] = {}
    for group, command, module, func, dist in daemon_doors():
        if group not in groups:
            groups[group] = typer.Typer(help=f"A job of {dist} (entry point group waitbus.daemons.v1).")
            app.add_typer(groups[group], name=group, no_args_is_help=True)
        _add_door(groups[group], f"{group} {command}", command, (module, func, dist))

    fs_watch = typer.Typer(help="The supervised fs source over the config's [fs] paths.", no_args_is_help=True)
    app.add_typer(fs_watch, name="fs-watch")

    @fs_watch.command("run")
    def fs_watch_run() -> None:
        """Watch the config's [fs] paths recursively until SIGTERM (the waitbus-source-fs unit runs this).

        With no paths configured it says so and exits 0: nothing is watched until asked. On a
        restart it first emits one fs_gap event for the time it was not watching.

        Example: waitbus fs-watch run

        Exit codes: 0 stopped by SIGTERM or nothing to watch, 130 SIGINT, 2 bad config, a missing
        path, or waitbus-sources-fs not installed.
        """
        from ._fs_watch import run

        raise typer.Exit(run())

    silence = typer.Typer(help="The ingestion-silence detector (the 5-minute watchdog timer).", no_args_is_help=True)
    app.add_typer(silence, name="silence-check")

    @silence.command("run")
    def silence_run(
        min_silence: Annotated[
            str, typer.Option(help="Never call a source silent before this long (30m, 2h).")
        ] = "30m",
        stale_after: Annotated[
            str | None, typer.Option(help="Passed to the Alertmanager Watchdog check (default there: 10m).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    ) -> None:
        """Report each source silent for longer than its history says is usual, as a source_silent event.

        "github has been silent for 3 h while it usually speaks every 10 min": a source with
        20+ events is silent past 3x the 95th percentile of its recent gaps (and --min-silence).
        Alertmanager's Watchdog is checked too, only when Alertmanager is set up (a staged
        alertmanager-token/-hmac or a heartbeat seen). See docs/cli-admin.md.

        Example: waitbus silence-check run --min-silence 1h

        Exit codes: 0 checked (silences are events, not failures) or nothing to check; 2 bad
        option or unreadable log; 4 an event could not be written.
        """
        from waitbus import parse_duration

        from ._silence import run

        try:
            seconds = parse_duration(min_silence)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--min-silence") from None
        raise typer.Exit(run(min_silence_s=seconds, stale_after=stale_after, as_json=as_json))

    mcp = typer.Typer(help="The MCP server (stdio).", no_args_is_help=True)
    app.add_typer(mcp, name="mcp")

    @mcp.command("serve", context_settings=_PASSTHROUGH, add_help_option=False)
    def mcp_serve(ctx: typer.Context) -> None:
        """The stdio MCP server (waitbus-mcp): tools, resources and push notifications. `--help` lists its options.

        Example: waitbus mcp serve --channel-match 'fields.conclusion="failure"'

        Exit codes: the server's own (0 when stdin closes); 2 waitbus-mcp is not installed.
        """
        import importlib.util
        import os

        # Not imported: the CLI does not depend on waitbus-mcp. The server replaces this process.
        if importlib.util.find_spec("waitbus_mcp") is None:
            print(
                "waitbus mcp serve: waitbus-mcp is not installed here; install it (pip install --find-links dist "
                "waitbus-mcp) or run `uvx --find-links dist --from waitbus-mcp waitbus-mcp` from a release's dist/ "
                "folder. Nothing was started.",
                file=sys.stderr,
            )
            raise typer.Exit(_exit.USAGE)
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, "-m", "waitbus_mcp", *ctx.args])  # noqa: S606 - argv list, no shell

    @app.command("serve")
    def serve_all(
        log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    ) -> None:
        """Every daemon in one foreground process, for machines without systemd or launchd.

        The broadcast hub (settings from the config file) and, when a source with routes is
        installed or an emit-token is staged, the loopback listener on listener.port; it
        says on start which it runs, and why not the listener (a busy port, a broken
        plugin or secrets file costs the listener, never the hub). etag-poll and watchdog-check are periodic jobs that
        `serve` does not schedule: run them from cron or the installed timers.

        Example: waitbus serve

        Exit codes: 0 stopped by SIGTERM, 130 SIGINT, 2 cannot start, 3 another hub serves this runtime dir.
        """
        from ._serve import serve

        raise typer.Exit(serve(log_level))

    @app.command()
    def demo(rounds: Annotated[int, typer.Option(min=1, max=100, help="Phase 1 repetitions.")] = 5) -> None:
        """Offline demo: a temp hub, a real wait_for unblocked by an emit (latency printed), then every source kind."""
        from ._demo import run

        raise typer.Exit(run(rounds))

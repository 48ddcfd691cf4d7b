"""Daemon entry points and the demo: thin doors to the packages that own them.

Doors whose package is not built yet say so on stderr and exit 2; they never pretend.
"""

from __future__ import annotations

import re
import sys
from typing import Annotated

import typer

from . import _exit

_PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}
_REPO_RE = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
# `waitbus source NAME`: the package that will provide each built-in source.
SOURCE_PACKAGES = {
    "github": "waitbus-sources-github",
    "alertmanager": "waitbus-sources-alertmanager",
    "pytest": "waitbus-sources-pytest",
    "docker": "waitbus-sources-docker",
    "fs": "waitbus-sources-fs",
}


def not_built(verb: str, what: str, package: str, issue: int) -> int:
    print(
        f"waitbus {verb}: not built yet: {what} is part of {package} (issue {issue}), "
        "which is still a placeholder with no working code. Nothing was started.",
        file=sys.stderr,
    )
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

    @listener.command("serve", context_settings=_PASSTHROUGH)
    def listener_serve(ctx: typer.Context) -> None:
        """HTTP webhook receiver on 127.0.0.1 (port from config listener.port, default 9000). Not built yet.

        Example: waitbus listener serve

        Exit codes: 2 not built yet.
        """
        raise typer.Exit(
            not_built(
                "listener serve", "the webhook listener", "waitbus-sources-github and waitbus-sources-alertmanager", 4
            )
        )

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

    etag = typer.Typer(help="The GitHub ETag poll worker (repos in watched_repos.txt).", no_args_is_help=True)
    app.add_typer(etag, name="etag-poll")

    @etag.command("run", context_settings=_PASSTHROUGH)
    def etag_run(ctx: typer.Context) -> None:
        """One ETag poll pass over watched_repos.txt (the 45 s timer runs it). Not built yet.

        Example: waitbus etag-poll run

        Exit codes: 2 not built yet.
        """
        raise typer.Exit(not_built("etag-poll run", "the ETag poller", "waitbus-sources-github", 4))

    watchdog = typer.Typer(help="The ingestion-silence detector.", no_args_is_help=True)
    app.add_typer(watchdog, name="watchdog-check")

    @watchdog.command("run", context_settings=_PASSTHROUGH)
    def watchdog_run(ctx: typer.Context) -> None:
        """Record whether the Alertmanager watchdog alert is fresh or stale. Not built yet.

        Example: waitbus watchdog-check run

        Exit codes: 2 not built yet.
        """
        raise typer.Exit(not_built("watchdog-check run", "the watchdog check", "waitbus-sources-alertmanager", 4))

    pr = typer.Typer(help="Per-PR state rolled up from CI job events.", no_args_is_help=True)
    app.add_typer(pr, name="pr-monitor")

    @pr.command("tick", context_settings=_PASSTHROUGH)
    def pr_tick(ctx: typer.Context) -> None:
        """Roll job events into per-PR state and print each transition. Not built yet.

        Example: waitbus pr-monitor tick --pr 7 --pr 9

        Exit codes: 2 not built yet.
        """
        raise typer.Exit(not_built("pr-monitor tick", "the PR monitor", "waitbus-sources-github", 4))

    mcp = typer.Typer(help="The MCP server (stdio).", no_args_is_help=True)
    app.add_typer(mcp, name="mcp")

    @mcp.command("serve", context_settings=_PASSTHROUGH)
    def mcp_serve(ctx: typer.Context) -> None:
        """stdio MCP server re-emitting bus events as notifications. Not built yet.

        Example: uvx --from waitbus waitbus mcp serve

        Exit codes: 2 not built yet.
        """
        raise typer.Exit(not_built("mcp serve", "the MCP server", "waitbus-mcp", 5))

    @app.command("source", context_settings=_PASSTHROUGH)
    def source(
        ctx: typer.Context,
        name: Annotated[str, typer.Argument(help="Source name: docker, fs, github, alertmanager, pytest, a plugin's.")],
    ) -> None:
        """Run a source's own process (`waitbus source fs PATH`, `waitbus source docker`). Not built yet.

        Example: waitbus source fs ./src --recursive

        Exit codes: 2 not built yet (or an unknown source).
        """
        package = SOURCE_PACKAGES.get(name)
        if package is None:
            print(
                f"waitbus source: no source {name!r}: built-in sources are {', '.join(SOURCE_PACKAGES)}; plugin "
                "sources (entry-point group waitbus.sources.v1) are not built yet (issue 4)",
                file=sys.stderr,
            )
            raise typer.Exit(_exit.USAGE)
        raise typer.Exit(not_built(f"source {name}", f"the {name} source", package, 4))

    @app.command("serve")
    def serve_all(
        log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING or ERROR.")] = "INFO",
    ) -> None:
        """Every daemon in one foreground process, for machines without systemd or launchd.

        Today that is the broadcast hub (settings from the config file); the listener,
        etag-poll and watchdog-check are listed on start as not built yet.

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

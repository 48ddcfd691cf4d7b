"""Daemon entry points and the demo: thin doors to the packages that own them."""

from __future__ import annotations

from typing import Annotated

import typer

_PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def register(app: typer.Typer) -> None:
    broadcast = typer.Typer(help="The broadcast hub daemon.", no_args_is_help=True)
    app.add_typer(broadcast, name="broadcast")

    @broadcast.command("serve", context_settings=_PASSTHROUGH, add_help_option=False)
    def broadcast_serve(ctx: typer.Context) -> None:
        """Run the hub in the foreground (SIGTERM drains and exits 0). `--help` lists its options."""
        from waitbus_hub import main as hub_main

        raise typer.Exit(hub_main(list(ctx.args)))

    @app.command()
    def demo(rounds: Annotated[int, typer.Option(min=1, max=100, help="Phase 1 repetitions.")] = 5) -> None:
        """Offline demo: a temp hub, a real wait_for unblocked by an emit (latency printed), then every source kind."""
        from ._demo import run

        raise typer.Exit(run(rounds))

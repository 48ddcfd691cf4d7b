"""`waitbus bridge nats ...`: the door to the waitbus-bridge-nats package, loaded only
when run. Every argument goes to the bridge untouched (`--help` included)."""

from __future__ import annotations

import typer

from ._door import PASSTHROUGH, run_door

NATS_PACKAGE = "waitbus-bridge-nats"


def run_nats(argv: list[str]) -> int:
    return run_door(
        "waitbus_bridge_nats",
        argv,
        prog="waitbus bridge nats",
        what="the bridge",
        install=f"pip install 'waitbus-cli[nats]' (or {NATS_PACKAGE})",
    )


def register(app: typer.Typer) -> None:
    bridge = typer.Typer(help="Carry events between the buses of several machines.", no_args_is_help=True)
    app.add_typer(bridge, name="bridge")

    @bridge.command("nats", context_settings=PASSTHROUGH, add_help_option=False)
    def nats(ctx: typer.Context) -> None:
        """Bridge this bus through a NATS JetStream stream (docs/bridge.md). `--help` lists its options.

        Outbound publishes local events matching --match/--source/--first-of/--all (nothing
        leaves by default); inbound stores other machines' events here. Exit codes: 0 stopped
        or drained, 2 bad configuration or credentials refused, 3 a bridge of this bus is
        already connected, 4 local log unusable, 5 NATS unreachable after bounded retries.
        """
        raise typer.Exit(run_nats(list(ctx.args)))

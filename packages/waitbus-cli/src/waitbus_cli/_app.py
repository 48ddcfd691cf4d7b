"""The typer application. Verbs import what they need when they run, so start-up
stays fast."""

from __future__ import annotations

from typing import Annotated

import typer

from . import _exit

app = typer.Typer(
    name="waitbus",
    help="waitbus: the workstation-local status bus. Emit events; wait on them with zero polling.",
    no_args_is_help=True,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
broadcast = typer.Typer(help="The broadcast hub daemon.", no_args_is_help=True)
app.add_typer(broadcast, name="broadcast")


@broadcast.command(
    "serve",
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    add_help_option=False,
)
def broadcast_serve(ctx: typer.Context) -> None:
    """Run the hub in the foreground (SIGTERM drains and exits 0). `--help` lists its options."""
    from waitbus_hub import main as hub_main

    raise typer.Exit(hub_main(list(ctx.args)))


@app.command()
def emit(
    source: Annotated[str, typer.Argument(help="Source name, e.g. pytest, docker, agent, or a plugin's.")],
    event_type: Annotated[str, typer.Argument(help="Event type, e.g. pytest_session, agent_message.")],
    assignments: Annotated[
        list[str] | None,
        typer.Argument(help='Fields as key=<json>: status="done" count=3 ok=true (strings need JSON quotes).'),
    ] = None,
    delivery_id: Annotated[str | None, typer.Option(help="Dedup key: emitting it again is a no-op.")] = None,
    payload: Annotated[str | None, typer.Option(help="Raw payload: JSON text, @FILE, or - for stdin.")] = None,
    owner: Annotated[str | None, typer.Option(help="Owner label (GitHub owner, or any label).")] = None,
    repo: Annotated[str | None, typer.Option(help="Repository label.")] = None,
    summary: Annotated[str | None, typer.Option(help="One-line summary shown by watchers.")] = None,
    json: Annotated[bool, typer.Option("--json", help="Print {event_id, inserted} as JSON.")] = False,
) -> None:
    """Write one event to the bus and print its id. Works with no hub running.

    Exit codes: 0 written (or a repeated delivery id, reported), 2 bad input, 4 the log could not be written.
    """
    from ._emit_cmd import run

    raise typer.Exit(
        run(
            source,
            event_type,
            assignments or [],
            delivery_id=delivery_id,
            payload=payload,
            owner=owner,
            repo=repo,
            summary=summary,
            as_json=json,
        )
    )


@app.command()
def demo(rounds: Annotated[int, typer.Option(min=1, max=100, help="Phase 1 repetitions.")] = 5) -> None:
    """Offline demo: a temp hub, a real wait_for unblocked by an emit (latency printed), then every source kind."""
    from ._demo import run

    raise typer.Exit(run(rounds))


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(_exit.INTERRUPTED) from None

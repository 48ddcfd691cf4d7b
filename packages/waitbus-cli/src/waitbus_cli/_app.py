"""The typer application, assembled from one module per group of verbs.

Command modules import only typer and the stdlib at module level; each verb imports
what it needs when it runs, so `waitbus <verb>` pays only for its own work.
"""

from __future__ import annotations

import typer

from . import (
    _bridge_cmd,
    _daemons_cmd,
    _db_cmd,
    _exit,
    _install_cmd,
    _plugin_cmd,
    _query_cmd,
    _read_cmd,
    _sources_cmd,
    _status_cmd,
    _top_cmd,
    _web_cmd,
)
from . import _config_cmd as _config_cmd_mod

app = typer.Typer(
    name="waitbus",
    help="waitbus: the workstation-local status bus. Emit events; wait on them with zero polling. "
    "Exit codes: docs/exit-codes.md.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

for module in (
    _read_cmd,
    _query_cmd,
    _db_cmd,
    _top_cmd,
    _status_cmd,
    _install_cmd,
    _config_cmd_mod,
    _daemons_cmd,
    _sources_cmd,
    _plugin_cmd,
    _bridge_cmd,
    _web_cmd,
):
    module.register(app)


def _fast_verb(name: str, summary: str) -> None:
    """List an argparse-parsed hot verb in `waitbus --help` and delegate to it."""

    @app.command(
        name,
        help=summary,
        add_help_option=False,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def _delegate(ctx: typer.Context) -> None:
        from . import fast_verb

        raise typer.Exit(fast_verb(name, list(ctx.args)))


_fast_verb("emit", "Write one event to the bus and print its id (works with no hub). See `waitbus emit --help`.")
_fast_verb("wait", "Block until an event matches; the exit code is the verdict. See `waitbus wait --help`.")
_fast_verb("on", "Run a command (no shell) when an event matches: waitbus on [OPTIONS] [KEY=JSON ...] -- CMD.")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        raise SystemExit(_exit.INTERRUPTED) from None

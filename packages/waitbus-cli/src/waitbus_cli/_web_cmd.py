"""`waitbus web`: the door to the waitbus-web package, loaded only when run. Every
argument goes to it untouched (`--help` included)."""

from __future__ import annotations

import typer

from ._door import PASSTHROUGH, run_door

WEB_PACKAGE = "waitbus-web"


def run_web(argv: list[str]) -> int:
    return run_door(
        "waitbus_web",
        argv,
        prog="waitbus web",
        what="the web view",
        install=f"pip install 'waitbus-cli[web]' (or {WEB_PACKAGE})",
    )


def register(app: typer.Typer) -> None:
    @app.command("web", context_settings=PASSTHROUGH, add_help_option=False)
    def web(ctx: typer.Context) -> None:
        """A live view of the bus in the browser, on 127.0.0.1 only (docs/web.md). `--help` lists its options.

        Prints the URL to open first (it carries a random token); `--port`, `--open`,
        `--max-rows`, `--lag-limit-bytes`. Exit codes: 0 stopped by SIGTERM, 2 bad flag
        or cannot start, 130 Ctrl-C.
        """
        raise typer.Exit(run_web(list(ctx.args)))

"""Doors to packages the CLI only names: `waitbus bridge nats` and `waitbus web` load
their package when run, and say how to install it when it is missing."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module

from . import _exit

PASSTHROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def run_door(module: str, argv: list[str], *, prog: str, what: str, install: str) -> int:
    """Run `module.main(argv, prog=prog)`; exit 2 naming `install` if it is not installed."""
    try:
        main: Callable[..., int] = import_module(module).main
    except ImportError:
        print(f"{prog}: {what} is not installed: {install}", file=sys.stderr)
        return _exit.USAGE
    return main(argv, prog=prog)

"""The `waitbus` console script.

The hot verbs (`emit`, `wait`, `on`) are parsed with argparse and never import
typer, pydantic or anything the verb does not use: they start in a few tens of
milliseconds. Every other verb goes through the typer application.
"""

from __future__ import annotations

import sys

# verb -> module with `fast_main(verb, args) -> int`
_FAST_VERBS = {"emit": "waitbus_cli._emit_cmd", "wait": "waitbus_cli._wait_cmd", "on": "waitbus_cli._wait_cmd"}


def fast_verb(verb: str, args: list[str]) -> int:
    from importlib import import_module

    try:
        code: int = import_module(_FAST_VERBS[verb]).fast_main(verb, args)
    except KeyboardInterrupt:
        code = 130
    return code


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in _FAST_VERBS:
        raise SystemExit(fast_verb(argv[0], argv[1:]))
    from ._app import main as typer_main

    typer_main()


__all__ = ["fast_verb", "main"]

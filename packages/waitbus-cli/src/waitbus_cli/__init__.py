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
    module = _FAST_VERBS[verb]
    try:
        __import__(module)  # not importlib.import_module: `importlib` costs ~0.3 ms
        code: int = sys.modules[module].fast_main(verb, args)
    except KeyboardInterrupt:
        from waitbus_wire import ExitCode

        code = ExitCode.INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`waitbus wait ... | head -c0`): quiet, like a C tool
        # killed by SIGPIPE; what was emitted stays emitted.
        import os

        from waitbus_wire import ExitCode

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = ExitCode.BROKEN_PIPE
    return code


def _leave(code: int) -> None:
    """End a hot verb without the interpreter's teardown, which only frees what the OS
    frees anyway: ~4 ms of `waitbus emit` and ~10 ms of `waitbus wait` after it has its
    answer. Exit handlers still run (the SDK closes its store) and output is flushed;
    a failed flush gets Python's own exit status for it, 120."""
    import atexit
    import os

    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            code = code or 120
    os._exit(code)


def main() -> None:
    argv = sys.argv[1:]
    if argv and argv[0] in _FAST_VERBS:
        _leave(fast_verb(argv[0], argv[1:]))
    from waitbus_store import bound_log_from_env

    bound_log_from_env()  # a daemon under launchd: its log file stays bounded
    from ._app import main as typer_main

    typer_main()


__all__ = ["fast_verb", "main"]

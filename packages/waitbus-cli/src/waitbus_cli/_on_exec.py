"""`waitbus on`: run a command for matching events, safely.

The command runs with a list argv and no shell. The event reaches it only through
WAITBUS_* environment variables and a 0600 JSON file ($WAITBUS_EVENT_FILE), never
through argv, so nothing in an event can become a flag, a shell word or PATH.
"""

from __future__ import annotations

import os
import queue
import signal
import sys
import threading
import time

from waitbus_wire import ExitCode

from . import _exit
from ._errors import CliError

TYPE_CHECKING = False  # not `from typing import ...`: `waitbus on` starts like `waitbus wait`
if TYPE_CHECKING:
    from typing import Any

    from waitbus import EventView

    from ._wait_args import WaitArgs

NOT_EXECUTABLE = ExitCode.NOT_EXECUTABLE
NOT_FOUND = ExitCode.NOT_FOUND
SIGINT_SELF_EXIT_S = 1.0  # Ctrl-C reaches CMD too (same process group): let it exit first


class OnOptions:
    """How to run CMD. A plain class, not a dataclass: `dataclasses` imports `inspect`."""

    __slots__ = ("argv", "grace", "loop", "restart")

    def __init__(self, argv: list[str], loop: bool = False, restart: bool = False, grace: float = 3.0) -> None:
        self.argv, self.loop, self.restart, self.grace = argv, loop, restart, grace


class CommandError(CliError):
    """CMD could not be started; `code` is 126 or 127, as a shell would exit."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message, code)


class _Terminated(BaseException):
    """SIGTERM to `waitbus on`: stop CMD, then exit 128+15."""


def _env_value(value: object) -> str:
    text = "" if value is None else str(value)
    # An environment string cannot hold NUL or unencodable surrogates.
    return text.replace("\0", "").encode("utf-8", "replace").decode("utf-8")


def event_env(base: dict[str, str], frame: EventView, event_file: str) -> dict[str, str]:
    """`base` plus the namespaced event variables; nothing else is touched."""
    env = dict(base)
    env.update(
        {
            "WAITBUS_EVENT_ID": _env_value(frame.event_id),
            "WAITBUS_SOURCE": _env_value(frame.source),
            "WAITBUS_EVENT_TYPE": _env_value(frame.event_type),
            "WAITBUS_OWNER": _env_value(frame.owner),
            "WAITBUS_REPO": _env_value(frame.repo),
            "WAITBUS_SUMMARY": _env_value(frame.summary),
            "WAITBUS_DELIVERY_ID": _env_value(frame.delivery_id),
            "WAITBUS_RECEIVED_AT": _env_value(frame.received_at),
            "WAITBUS_EVENT_FILE": event_file,
        }
    )
    return env


def _event_dir() -> str | None:
    """The private runtime dir (0700, often tmpfs) if it is ours and private, else None
    (the temp dir)."""
    from waitbus_store import PathError, check_private_dir, resolve_dirs

    try:
        runtime = resolve_dirs().runtime
        check_private_dir(runtime)
    except (PathError, OSError):
        return None
    return runtime


def exit_status(returncode: int) -> int:
    """A shell's view of a child's end: its code, or 128+N if signal N killed it."""
    return 128 - returncode if returncode < 0 else returncode


class Running:
    """One CMD run for one event: the process, its event file, and a thread that
    reaps it (so waiting on it is an Event, interruptible by signals)."""

    def __init__(self, argv: list[str], frame: EventView, on_exit: queue.Queue[Any] | None = None) -> None:
        import subprocess
        import tempfile

        from waitbus_wire import event_json

        fd, self.event_file = tempfile.mkstemp(prefix="waitbus-event-", suffix=".json", dir=_event_dir())
        with os.fdopen(fd, "wb") as f:  # mkstemp makes it 0600
            f.write(event_json(frame))
        self.frame = frame
        self.returncode: int | None = None
        self.done = threading.Event()
        try:
            self.proc = subprocess.Popen(argv, env=event_env(dict(os.environ), frame, self.event_file), shell=False)
        except FileNotFoundError:
            self.remove_file()
            raise CommandError(NOT_FOUND, f"command not found: {argv[0]}") from None
        except OSError as exc:  # PermissionError, ENOEXEC, a directory...
            self.remove_file()
            raise CommandError(NOT_EXECUTABLE, f"cannot execute {argv[0]}: {exc.strerror}") from None
        threading.Thread(target=self._reap, args=(on_exit,), daemon=True).start()

    def _reap(self, on_exit: queue.Queue[Any] | None) -> None:
        self.returncode = self.proc.wait()
        self.remove_file()
        self.done.set()
        if on_exit is not None:
            on_exit.put(("exit", self))

    def remove_file(self) -> None:
        try:
            os.unlink(self.event_file)
        except FileNotFoundError:
            pass

    def wait(self) -> int:
        self.done.wait()
        assert self.returncode is not None
        return exit_status(self.returncode)

    def stop(self, grace: float) -> None:
        """SIGTERM, then SIGKILL if CMD is still there after `grace` seconds."""
        for sig, limit in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
            if self.done.is_set():
                return
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass
            if self.done.wait(limit):
                return


def _say(message: str) -> None:
    print(f"waitbus on: {message}", file=sys.stderr, flush=True)


def _next_match(args: WaitArgs, since: str | float | None, timeout: float | None) -> EventView | None:
    from waitbus import wait_event

    kwargs = args.kwargs()
    kwargs["since"] = since
    # A fresh wait per match: an all-of set starts empty again after each run.
    return wait_event(**kwargs, timeout=timeout, on_idle=_load_launcher)


def _load_launcher() -> None:
    """While nothing matches yet: import what starting CMD takes (subprocess, tempfile,
    the event's JSON, the runtime dir's check: a few ms after the event otherwise)."""
    import subprocess  # noqa: F401
    import tempfile  # noqa: F401

    from waitbus_store import check_private_dir  # noqa: F401
    from waitbus_wire import event_json  # noqa: F401


def run_on(args: WaitArgs, opts: OnOptions) -> int:
    from waitbus import HubRejected, HubUnavailable

    from ._wait_cmd import is_store_error

    def on_term(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, on_term)
    current: list[Running] = []  # the run in flight, for the interrupt path
    try:
        if opts.restart:
            return _restart_loop(args, opts, current)
        return _sequential(args, opts, current)
    except (HubUnavailable, HubRejected, ValueError, OSError) as exc:
        _say(str(exc))  # OSError: the event file could not be written
        return _exit.USAGE
    except CommandError as exc:
        _say(str(exc))
        return exc.code
    except KeyboardInterrupt:
        _shutdown(current, opts.grace, SIGINT_SELF_EXIT_S)
        return _exit.INTERRUPTED
    except _Terminated:
        _shutdown(current, opts.grace, 0.0)
        return 128 + signal.SIGTERM
    except Exception as exc:
        if not is_store_error(exc):
            raise
        _say(str(exc))
        return _exit.USAGE
    finally:
        signal.signal(signal.SIGTERM, previous)


def _shutdown(current: list[Running], grace: float, self_exit: float) -> None:
    """Stop CMD on our way out; a second Ctrl-C or SIGTERM must not skip this."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for run in current:
        if not run.done.wait(self_exit):
            run.stop(grace)


def _timed_out(args: WaitArgs) -> int:
    _say(f"no matching event for {args.timeout:g}s; giving up")
    return _exit.TIMEOUT


def _sequential(args: WaitArgs, opts: OnOptions, current: list[Running]) -> int:
    since = args.since
    while True:
        frame = _next_match(args, since, args.timeout)
        if frame is None:
            return _timed_out(args)
        run = Running(opts.argv, frame)
        current[:] = [run]
        code = run.wait()
        current.clear()
        if not opts.loop:
            return code
        since = frame.event_id


def _restart_loop(args: WaitArgs, opts: OnOptions, current: list[Running]) -> int:
    """Waits on the bus in a thread so a match can stop a CMD that is still running."""
    items: queue.Queue[Any] = queue.Queue()

    def listen() -> None:
        since = args.since
        try:
            while True:
                frame = _next_match(args, since, None)
                if frame is not None:
                    items.put(("event", frame))
                    since = frame.event_id
        except BaseException as exc:  # reported to, and raised by, the main thread
            items.put(("error", exc))

    threading.Thread(target=listen, daemon=True).start()
    idle_deadline = None if args.timeout is None else time.monotonic() + args.timeout
    while True:
        if current or idle_deadline is None:
            batch = [items.get()]
        else:
            try:
                batch = [items.get(timeout=max(0.0, idle_deadline - time.monotonic()))]
            except queue.Empty:
                return _timed_out(args)
        while True:  # take everything already queued: a burst of matches runs CMD once
            try:
                batch.append(items.get_nowait())
            except queue.Empty:
                break
        newest: EventView | None = None
        for kind, value in batch:
            if kind == "error":
                for run in current:
                    run.stop(opts.grace)
                raise value
            if kind == "exit" and current and value is current[0]:
                current.clear()
                if args.timeout is not None:
                    idle_deadline = time.monotonic() + args.timeout
            elif kind == "event":
                newest = value
        if newest is not None:
            for run in current:
                run.stop(opts.grace)
            current[:] = [Running(opts.argv, newest, on_exit=items)]

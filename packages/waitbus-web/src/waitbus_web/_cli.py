"""`waitbus web` / `waitbus-web`: start the server, print its URL first, serve until
SIGINT (exit 130) or SIGTERM (exit 0)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import threading

from waitbus_wire import ExitCode

from ._server import DEFAULT_LAG_LIMIT_BYTES, DEFAULT_MAX_ROWS, WebConfig, WebServer

# docs/exit-codes.md: USAGE is a bad flag or cannot start (port taken, unusable log)
OK, USAGE, INTERRUPTED = ExitCode.OK, ExitCode.USAGE, ExitCode.INTERRUPTED


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog,
        description="A live view of the bus in the browser, on 127.0.0.1 only. The first line printed is "
        "the URL to open; it carries a random token, and every request without it (or the cookie it sets) "
        "gets 401. See docs/web.md.",
    )
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument(
        "--max-rows",
        type=int,
        default=DEFAULT_MAX_ROWS,
        metavar="N",
        help=f"rows the page keeps; older ones drop off (default {DEFAULT_MAX_ROWS})",
    )
    p.add_argument(
        "--lag-limit-bytes",
        type=int,
        default=DEFAULT_LAG_LIMIT_BYTES,
        metavar="N",
        help="bytes a page may leave unread before it is dropped and resumes from its cursor "
        f"(default {DEFAULT_LAG_LIMIT_BYTES})",
    )
    return p


def main(argv: list[str] | None = None, prog: str = "waitbus-web") -> int:
    args = _parser(prog).parse_args(argv)
    if not 0 <= args.port <= 65535:
        print(f"{prog}: --port must be 0-65535; got {args.port}", file=sys.stderr)
        return USAGE
    if not 10 <= args.max_rows <= 100_000:
        print(f"{prog}: --max-rows must be 10-100000; got {args.max_rows}", file=sys.stderr)
        return USAGE
    if args.lag_limit_bytes < 64 * 1024:
        print(f"{prog}: --lag-limit-bytes must be at least 65536; got {args.lag_limit_bytes}", file=sys.stderr)
        return USAGE
    config = WebConfig(port=args.port, max_rows=args.max_rows, lag_limit_bytes=args.lag_limit_bytes)
    try:
        return asyncio.run(_serve(config, prog, open_browser=args.open))
    except KeyboardInterrupt:
        return INTERRUPTED


async def _serve(config: WebConfig, prog: str, *, open_browser: bool) -> int:
    from waitbus_store import StoreError

    stop = asyncio.Event()
    code = OK
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        nonlocal code
        code = INTERRUPTED if signum == signal.SIGINT else OK
        stop.set()

    # Before the URL is printed: whoever reads it may signal us at once.
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    server = WebServer(config)
    try:
        await server.start()
    except (StoreError, OSError) as exc:
        print(f"{prog}: cannot start: {exc}", file=sys.stderr)
        return USAGE
    print(server.url, flush=True)
    print(f"{prog}: serving the bus on http://127.0.0.1:{server.port}/ (Ctrl-C stops)", file=sys.stderr, flush=True)
    if open_browser:
        import webbrowser

        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        await stop.wait()
    finally:
        await server.close()
    return code

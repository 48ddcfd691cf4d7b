"""The predicate flags `waitbus wait` and `waitbus on` share (argparse); `_wait_args.build`
gives them their meaning."""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing import ...`: `waitbus wait` imports neither typing nor argparse
if TYPE_CHECKING:
    import argparse

# The flags add_predicate_args defines: the ones with a value, and the repeatable ones.
VALUE_FLAGS = ("match", "source", "sha", "repo", "all_of", "first_of", "cond", "since", "timeout")
REPEATABLE = ("match", "all_of", "first_of")


def add_predicate_args(parser: argparse.ArgumentParser, *, timeout_help: str) -> None:
    """The predicate flags shared by `wait` and `on`."""
    add = parser.add_argument
    add(
        "--match",
        action="append",
        metavar="KEY=JSON",
        help="repeatable dotted.key=<json>, e.g. fields.status='\"completed\"'; AND across keys, OR within a key",
    )
    add("--source", metavar="NAME", help="only events from this source")
    add(
        "--sha",
        metavar="PREFIX",
        help="GitHub head_sha prefix (7-40 hex): wait for that commit's run to reach a terminal conclusion",
    )
    add("--repo", metavar="OWNER/REPO", help="only events for this owner/repo")
    add(
        "--all-of",
        action="append",
        metavar="SOURCE:KEY=JSON",
        help="repeatable clause; every clause must be met by some event (sticky); not with --first-of",
    )
    add(
        "--first-of",
        action="append",
        metavar="SOURCE:KEY=JSON",
        help="repeatable clause; the first event meeting any clause wins",
    )
    add("--cond", metavar="NAME", help="a named condition from [conditions] in the config file or a plugin")
    add(
        "--since",
        metavar="DURATION|EVENT_ID",
        help="also look back at stored events: a duration (10m) or an event id (ULID)",
    )
    add("--timeout", metavar="DURATION", help=timeout_help)

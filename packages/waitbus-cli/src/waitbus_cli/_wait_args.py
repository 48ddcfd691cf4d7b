"""What the predicate flags of `waitbus wait` / `waitbus on` mean: `build()` turns them
into wait_for/subscribe arguments and fails fast (ValueError, PredicateError,
EventError) before anything connects."""

from __future__ import annotations

import re

TYPE_CHECKING = False  # not `from typing import ...`: `waitbus wait` starts in ~2x a bare python
if TYPE_CHECKING:
    from typing import Any

SHA_SPEC = "github.sha"  # `--sha P` is shorthand for the spec `github.sha:P` (waitbus-sources-github)
_REPO = r"^([A-Za-z0-9_.-]+)/([A-Za-z0-9_.-]+)\Z"  # compiled only for --repo


class WaitArgs:
    """Keyword arguments for waitbus.wait_for, plus the timeout in seconds. A plain
    slotted class, not a dataclass: `dataclasses` imports `inspect` (~5 ms)."""

    __slots__ = ("all_of", "cond", "first_of", "match", "since", "source", "timeout")

    def __init__(
        self,
        match: list[str] | None = None,
        all_of: list[str] | None = None,
        first_of: list[str] | None = None,
        cond: str | None = None,
    ) -> None:
        self.match: list[str] = match if match is not None else []
        self.source: str | None = None
        self.all_of = all_of
        self.first_of = first_of
        self.cond = cond
        self.since: str | float | None = None
        self.timeout: float | None = None

    def kwargs(self) -> dict[str, Any]:
        return {
            "match": self.match or None,
            "source": self.source,
            "all_of": self.all_of,
            "first_of": self.first_of,
            "cond": self.cond,
            "since": self.since,
        }


def build(
    *,
    match: list[str] | None,
    source: str | None,
    sha: str | None,
    repo: str | None,
    all_of: list[str] | None,
    first_of: list[str] | None,
    cond: str | None,
    since: str | None,
    timeout: str | None,
) -> WaitArgs:
    """Validate the flags and map them to wait_for arguments."""
    import json

    from waitbus import Matcher
    from waitbus_wire import check_name, parse_duration

    def lit(value: str) -> str:
        return json.dumps(value)

    if all_of and first_of:
        raise ValueError("use --all-of or --first-of, not both")
    args = WaitArgs(match=list(match or []), all_of=all_of or None, first_of=first_of or None, cond=cond)
    if source is not None:
        args.source = check_name("--source", source)
    if sha is not None:
        # `--sha P` is `SHA_SPEC:P`, a language its source declares through the plugin door;
        # the source part of its name also lets the hub filter on `source`.
        owner = SHA_SPEC.partition(".")[0]
        if args.source not in (None, owner):
            raise ValueError(f"--sha waits on {owner} runs; it cannot be combined with --source {args.source}")
        args.source = owner
        args.match.append(f"{SHA_SPEC}:{sha}")
    if repo is not None:
        m = re.match(_REPO, repo)
        if not m:
            raise ValueError(f"--repo must be OWNER/REPO, e.g. acme/app; got {repo!r}")
        args.match += [f"owner={lit(m.group(1))}", f"repo={lit(m.group(2))}"]
    if cond is not None:
        from ._conditions import load_conditions

        load_conditions(cond)
    if since is not None:
        args.since = _parse_since(since, parse_duration)
    if timeout is not None:
        try:
            args.timeout = parse_duration(timeout)
        except ValueError as exc:
            raise ValueError(f"--timeout: {exc}") from None
        if args.timeout <= 0:
            raise ValueError(f"--timeout must be more than 0; got {timeout!r}")
    # Parse everything now (raises PredicateError) so a typo fails before any wait.
    Matcher(args.match, source=args.source, cond=args.cond, all_of=args.all_of, first_of=args.first_of)
    return args


def _parse_since(text: str, parse_duration: Any) -> str | float:
    from waitbus_wire import is_ulid

    if is_ulid(text.upper()):
        return text.upper()
    try:
        seconds: float = parse_duration(text)
    except ValueError:
        raise ValueError(f"--since must be a duration (10m, 1h) or an event id (ULID); got {text!r}") from None
    return seconds

"""The page's filter box: `key=json` specs separated by whitespace, as `waitbus wait
--match` takes them one per flag (AND across keys, OR within a key), judged by the
SDK's own Matcher so the page and the CLI can never disagree."""

from __future__ import annotations

MAX_FILTER_CHARS = 4096


def split_specs(text: str) -> list[str]:
    """Split at whitespace outside JSON strings and brackets: `a="x y" b=[1, 2]` is two
    specs. Quoting and escapes are left exactly as typed, for the grammar to judge."""
    specs: list[str] = []
    current: list[str] = []
    depth = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth = max(0, depth - 1)
        elif ch.isspace() and depth == 0:
            if current:
                specs.append("".join(current))
                current = []
            continue
        current.append(ch)
    if current:
        specs.append("".join(current))
    return specs


def check_filter(text: str) -> list[str]:
    """The specs of a filter, or PredicateError with the grammar's own message."""
    from waitbus import Matcher, PredicateError

    if len(text) > MAX_FILTER_CHARS:
        raise PredicateError(f"the filter is {len(text)} characters; at most {MAX_FILTER_CHARS}")
    specs = split_specs(text)
    Matcher(specs)  # the same parse `waitbus wait --match` runs: raises on a bad spec
    return specs

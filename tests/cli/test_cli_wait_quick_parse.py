"""`waitbus wait` / `waitbus on ... -- CMD` parse their common forms by hand; argparse
must agree on every argv the quick parser accepts (and decides the rest, with its own
help and errors)."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_cli._wait_cmd import _argparse, quick_parse

TOKENS = [
    "a=1", 'fields.b="x y"', "-", "--", "-1", "=", "x", "",
    "--json", "--json=1", "--match", "--match=k=2", "--source", "--source=s", "--sha", "--sha=abc1234",
    "--repo", "--repo=o/r", "--all-of", "--all-of=p:k=1", "--first-of", "--cond", "--since", "--since=10m",
    "--timeout", "--timeout=1ms", "--sou", "--time", "-h", "--help", "--unknown",
    "--loop", "--restart", "--grace", "--grace=1s", "--loop=1",
]  # fmt: skip


def argparse_view(verb: str, args: list[str]) -> dict[str, object] | None:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        parsed = _argparse(verb, args, with_command=False)
    return None if isinstance(parsed, int) else parsed


@pytest.mark.parametrize("verb", ["wait", "on"])
@settings(max_examples=2000, deadline=None, derandomize=True)
@given(args=st.lists(st.sampled_from(TOKENS), max_size=8))
def test_quick_parse_agrees_with_argparse_whenever_it_answers(verb: str, args: list[str]) -> None:
    quick = quick_parse(verb, args)
    if quick is not None:
        assert argparse_view(verb, args) == quick


@pytest.mark.parametrize(
    ("verb", "args"),
    [
        ("wait", []),
        ("wait", ["--source", "x", "--timeout", "1ms"]),
        ("wait", ["--source=fs", "--match", 'fields.rel="a"', "--timeout", "60s", "--json"]),
        ("wait", ["fields.x=1", "--timeout", "5s", "fields.y=2", "--match", "z=3"]),
        ("wait", ["--sha", "7f3a1b2", "--repo", "o/r", "--since", "10m"]),
        ("wait", ["--all-of", 'pytest:fields.outcome="passed"', "--all-of", 'docker:fields.action="die"']),
        ("on", ["--source", "ci", "--loop", "--restart", "--grace=1s", "a=1"]),
    ],
)
def test_the_common_forms_skip_argparse(verb: str, args: list[str]) -> None:
    quick = quick_parse(verb, args)
    assert quick is not None and quick == argparse_view(verb, args)


@pytest.mark.parametrize(
    ("verb", "args"),
    [
        ("wait", ["-h"]),
        ("wait", ["--sou", "x"]),  # an abbreviation: argparse's rules
        ("wait", ["--source", "--json"]),  # a value that looks like an option
        ("wait", ["--timeout"]),  # a value missing
        ("wait", ["--loop"]),  # another verb's flag
        ("on", ["--json"]),
        ("wait", ["-", "a=1"]),
        ("wait", ["--json=1"]),
    ],
)
def test_anything_unsure_goes_to_argparse(verb: str, args: list[str]) -> None:
    assert quick_parse(verb, args) is None

"""`waitbus emit` parses its common form by hand; argparse must agree on every argv
the quick parser accepts (and decides the rest, with its own help and errors)."""

from __future__ import annotations

import contextlib
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from waitbus_cli._emit_cmd import build_parser, quick_parse

TOKENS = [
    "src", "kind", "a=1", 'b="x y"', "c.d=true", "-", "--", "-1", "=", "x",
    "--json", "--json=1", "--owner", "--owner=o", "--repo", "--repo=", "--summary", "--summary=a b",
    "--payload", "--payload=-", "--delivery-id", "--deliv", "-h", "--help", "--unknown",
]  # fmt: skip


def argparse_view(args: list[str]) -> dict[str, object] | None:
    with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
        try:
            return vars(build_parser().parse_args(args))
        except SystemExit:
            return None


@settings(max_examples=3000, deadline=None, derandomize=True)
@given(st.lists(st.sampled_from(TOKENS), max_size=8))
def test_quick_parse_agrees_with_argparse_whenever_it_answers(args: list[str]) -> None:
    quick = quick_parse(args)
    if quick is not None:
        assert argparse_view(args) == quick


@pytest.mark.parametrize(
    "args",
    [
        ["agent", "tick"],
        ["agent", "tick", "n=1", "ok=true", "--summary", "s", "--json"],
        ["--owner", "o", "--repo=r", "agent", "tick", "n=1"],
        ["agent", "tick", "--payload", "-"],
        ["agent", "tick", "--delivery-id=d1", "--summary="],
    ],
)
def test_the_common_forms_skip_argparse(args: list[str]) -> None:
    quick = quick_parse(args)
    assert quick is not None and quick == argparse_view(args)


@pytest.mark.parametrize(
    "args",
    [
        ["-h"],
        ["agent"],
        ["agent", "tick", "--deliv", "d"],  # an abbreviation: argparse's rules
        ["agent", "tick", "--summary", "--json"],  # a value that looks like an option
        ["agent", "--json", "tick", "a=1", "--owner", "o", "b=2"],  # a second positional run
        ["agent", "tick", "--", "-x=1"],
    ],
)
def test_anything_unsure_goes_to_argparse(args: list[str]) -> None:
    assert quick_parse(args) is None

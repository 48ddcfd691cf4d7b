"""Every verb of `waitbus`, typer-parsed, argparse fast path, or a door into another
package: an unknown option, or a word no parameter takes, is exit 2 with a message,
never silently dropped. The verb list comes from the application itself, so a new verb
is covered the day it is added."""

from __future__ import annotations

import pytest
import typer

from tests._support import run_cli
from waitbus_cli._app import app


def _verbs() -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []

    def walk(command: object, path: tuple[str, ...]) -> None:
        subs = getattr(command, "commands", None)
        if subs is None:
            found.append(path)
            return
        for name, sub in subs.items():
            walk(sub, (*path, name))

    walk(typer.main.get_command(app), ())
    return found


VERBS = _verbs()
# The positional words a verb needs before a stray one can be told apart.
NEEDS = {
    ("emit",): ["agent", "tick"],
    ("install-credentials",): ["emit-token"],
    ("events", "query"): ["SELECT 1"],
    ("listener", "forward"): ["owner/repo"],
    ("source", "show"): ["fs"],
    ("source", "run"): ["fs", "."],
    ("on",): ["--source", "x", "--"],  # after --, words are the command: the stray word goes before
}
# Verbs whose extra words are data by design, each with the test that covers its words.
TAKES_WORDS = {
    ("emit",): "key=json fields (tests/cli/test_cli_emit_quick_parse.py)",
    ("wait",): "positional predicates (tests/cli/test_cli_positional_predicate.py)",
    ("on",): "positional predicates, then the command (tests/cli/test_cli_positional_predicate.py)",
    ("source", "run"): "the source's own arguments, e.g. `source fs PATH` (tests/fs_source)",
    ("config", "validate"): "an optional PATH",
    ("verify-plugin",): "an optional PATH",
}


def test_the_verb_list_is_complete():
    assert ("wait",) in VERBS and ("db", "prune") in VERBS and ("bridge", "nats") in VERBS
    assert len(VERBS) >= 30


@pytest.mark.timeout(120)
@pytest.mark.parametrize("verb", VERBS, ids=[" ".join(v) for v in VERBS])
def test_unknown_option_is_exit_2(verb):
    args = [*verb, *NEEDS.get(verb, [])]
    if verb == ("on",):
        args = ["on", "--no-such-flag", "--source", "x", "--", "true"]
    else:
        args.append("--no-such-flag")
    out = run_cli(*args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    # A door whose package is missing refuses before parsing: exit 2 all the same.
    said = ("no-such-flag", "no such option", "not installed")
    assert any(text in out.stderr.lower() for text in said), out.stderr


@pytest.mark.timeout(120)
@pytest.mark.parametrize("verb", [v for v in VERBS if v not in TAKES_WORDS], ids=lambda v: " ".join(v))
def test_stray_word_is_exit_2(verb):
    out = run_cli(*verb, *NEEDS.get(verb, []), "stray-word")
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "stray-word" in out.stderr or "unexpected extra argument" in out.stderr.lower(), out.stderr

"""The filter box's splitting (the grammar itself is the SDK's Matcher) and the CLI's
`waitbus web` door, which loads waitbus-web only when that verb runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from waitbus import PredicateError
from waitbus_web import check_filter, split_specs


@pytest.mark.parametrize(
    ("text", "specs"),
    [
        ("", []),
        ('  source="fs"  ', ['source="fs"']),
        ('source="fs" fields.kind="modified"', ['source="fs"', 'fields.kind="modified"']),
        ('summary="a b  c" n=[1, 2] o={"k": "v w"}', ['summary="a b  c"', "n=[1, 2]", 'o={"k": "v w"}']),
        (r'x="say \"hi there\"" y=1', [r'x="say \"hi there\""', "y=1"]),
        ("a=1\tb=2\nc=3", ["a=1", "b=2", "c=3"]),
    ],
)
def test_split_specs_keeps_json_values_whole(text, specs):
    assert split_specs(text) == specs


def test_check_filter_uses_the_sdks_grammar():
    assert check_filter('source="fs"') == ['source="fs"']
    with pytest.raises(PredicateError):
        check_filter("no-equals-sign")
    with pytest.raises(PredicateError, match="at most 4096"):
        check_filter("a=1 " * 2000)


def test_other_verbs_never_import_waitbus_web():
    code = (
        "import sys\n"
        "from waitbus_cli._app import app\n"
        "try:\n"
        "    app(['stats'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print('waitbus_web' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr


def test_waitbus_web_help_goes_to_the_package():
    out = subprocess.run(
        [sys.executable, "-m", "waitbus_cli", "web", "--help"], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("usage: waitbus web") and "--max-rows" in out.stdout


def test_waitbus_web_without_the_package_exits_2_saying_how_to_install():
    # Stand-in for "not installed": a None entry makes `import waitbus_web` raise ImportError.
    code = (
        "import sys\nsys.modules['waitbus_web'] = None\nfrom waitbus_cli._web_cmd import run_web\nprint(run_web([]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "2"
    assert "waitbus web: the web view is not installed: pip install 'waitbus-cli[web]' (or waitbus-web)" in out.stderr

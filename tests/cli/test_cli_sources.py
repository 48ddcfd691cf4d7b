"""`waitbus source list|show|NAME` and the doors `etag-poll run`, `pr-monitor tick`,
`watchdog-check run`.

Sources are throwaway plugins installed as real distributions (a dist-info with an
entry point) on PYTHONPATH, found through the entry-point door like any other. Which
built-in sources are installed is not assumed: other packages add theirs.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests._support import run_cli

# A source with a runner that records its argv and returns a chosen exit code.
KITE = """
import json, os, sys
from waitbus import HttpResponse, Route, SourceSpec

def main(argv):
    if argv[:1] == ["--help"]:
        print("usage: kite runner's own help")
        return 0
    if argv[:1] == ["--raise"]:
        raise RuntimeError("kite broke")
    with open(os.environ["KITE_ARGV"], "w") as f:
        json.dump(argv, f)
    return int(os.environ.get("KITE_EXIT", "0"))

def hook(req):
    return HttpResponse(200)

SOURCE = SourceSpec(
    name="kite", event_types=("kite_flown", "kite_landed"), summary="kite {fields.state}",
    entity_key=("fields.kite_id",), description="A test kite.", runner=main,
    routes=(Route("POST", "/kite", hook, summary="kite webhook"),),
)
"""

ROUTES_ONLY = """
from waitbus import HttpResponse, Route, SourceSpec
SOURCE = SourceSpec(name="hook", event_types=("hooked",),
                    routes=(Route("POST", "/hook", lambda req: HttpResponse(200)),))
"""


def install_plugin(root: Path, module: str, code: str, entry: str, dist: str | None = None) -> None:
    (root / module).mkdir(parents=True)
    (root / module / "__init__.py").write_text(code)
    name = dist or module.replace("_", "-")
    info = root / f"{name.replace('-', '_')}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[waitbus.sources.v1]\n{entry} = {module}:SOURCE\n")


@pytest.fixture
def plugins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "plugins"
    root.mkdir()
    monkeypatch.setenv("PYTHONPATH", str(root))
    monkeypatch.setenv("KITE_ARGV", str(tmp_path / "kite-argv.json"))
    return root


@pytest.fixture
def kite(plugins: Path) -> Path:
    install_plugin(plugins, "waitbus_test_kite", KITE, "kite", dist="waitbus-test-kite")
    return plugins


# -- list and show ---------------------------------------------------------------------------


def test_source_list_shows_an_installed_plugin(kite):
    out = run_cli("source", "list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PACKAGE", "EVENT", "TYPES", "RUNNER", "ROUTES"]
    (row,) = [line for line in lines if line.startswith("kite ")]
    assert row.split() == [
        "kite",
        "waitbus-test-kite",
        "(waitbus_test_kite:SOURCE)",
        "kite_flown,kite_landed",
        "yes",
        "POST",
        "/kite",
    ]


def test_source_list_json_describes_every_field(kite):
    out = run_cli("source", "list", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert [r["name"] for r in rows] == sorted(r["name"] for r in rows)
    (mine,) = [r for r in rows if r["name"] == "kite"]
    assert mine == {
        "name": "kite",
        "package": "waitbus-test-kite",
        "entry_point": "waitbus_test_kite:SOURCE",
        "event_types": ["kite_flown", "kite_landed"],
        "runner": True,
        "routes": ["POST /kite"],
        "summary": "kite {fields.state}",
        "entity_key": ["fields.kite_id"],
        "description": "A test kite.",
    }


def test_source_show_prints_one_source_in_full(kite):
    out = run_cli("source", "show", "kite")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("kite: A test kite.\n")
    for expected in (
        "waitbus-test-kite (waitbus_test_kite:SOURCE)",
        "kite_flown, kite_landed",
        "kite {fields.state}",
        "fields.kite_id",
        "yes: waitbus source kite ...",
        "POST /kite  kite webhook",
    ):
        assert expected in text
    as_json = json.loads(run_cli("source", "show", "kite", "--json").stdout)
    assert as_json["routes"] == ["POST /kite"] and as_json["runner"] is True


def test_show_and_run_of_an_unknown_source_exit_2_listing_the_installed_ones(kite):
    for args in (["source", "carrier-pigeon", "--fast"], ["source", "show", "carrier-pigeon"]):
        out = run_cli(*args)
        assert out.returncode == 2
        assert "unknown source 'carrier-pigeon'" in out.stderr and "kite" in out.stderr
        assert "Traceback" not in out.stderr and out.stdout == ""


# -- running a source ------------------------------------------------------------------------


def test_source_name_calls_the_runner_with_the_arguments_and_returns_its_exit_code(kite, tmp_path, monkeypatch):
    monkeypatch.setenv("KITE_EXIT", "7")
    out = run_cli("source", "kite", "fly", "--high", "-x", "3", "--name=Ada")
    assert out.returncode == 7, out.stderr
    assert json.loads((tmp_path / "kite-argv.json").read_text()) == ["fly", "--high", "-x", "3", "--name=Ada"]
    monkeypatch.setenv("KITE_EXIT", "0")
    assert run_cli("source", "kite").returncode == 0
    assert json.loads((tmp_path / "kite-argv.json").read_text()) == []


def test_help_after_the_source_name_goes_to_the_runner(kite):
    out = run_cli("source", "kite", "--help")
    assert out.returncode == 0 and out.stdout.strip() == "usage: kite runner's own help"
    door = run_cli("source", "--help")
    assert door.returncode == 0 and "list" in door.stdout and "show" in door.stdout


def test_a_runner_that_raises_exits_1_naming_the_plugin(kite):
    out = run_cli("source", "kite", "--raise")
    assert out.returncode == 1
    assert "RuntimeError: kite broke" in out.stderr and "waitbus source kite: its runner raised" in out.stderr


def test_a_source_with_only_routes_exits_2_saying_so(plugins):
    install_plugin(plugins, "waitbus_test_hook", ROUTES_ONLY, "hook")
    out = run_cli("source", "hook", "x")
    assert out.returncode == 2
    assert "no runner, only routes (POST /hook)" in out.stderr and "waitbus listener serve" in out.stderr


def test_source_run_reaches_a_source_named_like_a_subcommand(plugins, tmp_path):
    install_plugin(plugins, "waitbus_test_list", KITE.replace('name="kite"', 'name="list"'), "list")
    out = run_cli("source", "run", "list", "a")
    assert out.returncode == 0, out.stderr
    assert json.loads((tmp_path / "kite-argv.json").read_text()) == ["a"]


@pytest.mark.parametrize(
    ("code", "entry", "message"),
    [
        ("raise ImportError('needs libkite')\n", "broken", "source plugin 'broken' (waitbus_test_broken:SOURCE)"),
        ("SOURCE = 42\n", "broken", "is not a waitbus.SourceSpec"),
        (KITE, "broken", "declares the name 'kite'"),
    ],
    ids=["import-error", "not-a-spec", "name-mismatch"],
)
def test_a_plugin_that_fails_to_load_is_an_exit_2_naming_it(plugins, code, entry, message):
    install_plugin(plugins, "waitbus_test_broken", code, entry)
    for args in (["source", "list"], ["source", "show", "broken"], ["source", "broken"]):
        out = run_cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr and "Traceback" not in out.stderr


# -- the doors to functions of source packages ---------------------------------------------------
#
# The real waitbus-sources-github / -alertmanager may or may not be installed while this
# runs. A package of the same name put first on PYTHONPATH shadows it, so the door's
# behaviour is tested against a known stand-in (these modules are stand-ins, not the
# real packages).

DOOR_CASES = [
    (["etag-poll", "run"], "waitbus_sources_github", "etag_poll_main", "waitbus-sources-github"),
    (["pr-monitor", "tick"], "waitbus_sources_github", "pr_monitor_main", "waitbus-sources-github"),
    (["watchdog-check", "run"], "waitbus_sources_alertmanager", "watchdog_check_main", "waitbus-sources-alertmanager"),
]


def shadow(root: Path, module: str, code: str) -> None:
    (root / module).mkdir(parents=True, exist_ok=True)
    (root / module / "__init__.py").write_text(code)


@pytest.mark.parametrize(("verb", "module", "func", "dist"), DOOR_CASES)
def test_a_door_passes_its_arguments_and_help_through_and_returns_the_exit_code(
    plugins, tmp_path, verb, module, func, dist
):
    shadow(
        plugins,
        module,
        f"import json, os\ndef {func}(argv):\n"
        f"    json.dump(argv, open(os.environ['KITE_ARGV'], 'w'))\n"
        f"    print('help of {func}') if argv == ['--help'] else None\n"
        f"    return 5\n",
    )
    out = run_cli(*verb, "--pr", "7", "--pr", "9", "-v")
    assert out.returncode == 5, out.stderr
    assert json.loads((tmp_path / "kite-argv.json").read_text()) == ["--pr", "7", "--pr", "9", "-v"]
    helped = run_cli(*verb, "--help")
    assert helped.returncode == 5 and helped.stdout.strip() == f"help of {func}"


@pytest.mark.parametrize(("verb", "module", "func", "dist"), DOOR_CASES)
def test_a_door_whose_package_lacks_the_function_exits_2_naming_the_package(plugins, verb, module, func, dist):
    shadow(plugins, module, "")
    out = run_cli(*verb)
    assert out.returncode == 2
    assert f"the installed {dist} has no {func}()" in out.stderr and f"pip install -U {dist}" in out.stderr
    helped = run_cli(*verb, "--help")  # the door's own help still works
    assert helped.returncode == 0 and "Usage: waitbus" in helped.stdout and f"no {func}()" in helped.stdout


@pytest.mark.parametrize(("verb", "module", "func", "dist"), DOOR_CASES)
def test_a_door_whose_package_is_missing_exits_2_saying_what_to_install(plugins, verb, module, func, dist):
    # Stand-in for "not installed": the module itself raises ModuleNotFoundError for its own name.
    shadow(plugins, module, f'raise ModuleNotFoundError("No module named {module!r}", name={module!r})\n')
    out = run_cli(*verb)
    assert out.returncode == 2
    assert f"needs {dist}, which is not installed: pip install {dist}" in out.stderr
    assert "Traceback" not in out.stderr
    # A missing dependency of an installed package is named as such, not as the package.
    shadow(plugins, module, "import waitbus_no_such_dependency_zz\n")
    out = run_cli(*verb)
    assert out.returncode == 2
    assert f"{dist} is installed but cannot be imported" in out.stderr and "waitbus_no_such_dependency_zz" in out.stderr


def test_a_third_party_daemon_entry_point_becomes_a_verb(plugins, tmp_path):
    """The CLI lists no daemon itself: `waitbus.daemons.v1` `GROUP.COMMAND` is the verb."""
    shadow(plugins, "waitbus_test_kitejob", "import sys\ndef tick(argv):\n    print('kite', *argv)\n    return 6\n")
    info = plugins / "waitbus_test_kitejob-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: waitbus-test-kitejob\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text("[waitbus.daemons.v1]\nkite-job.tick = waitbus_test_kitejob:tick\n")
    out = run_cli("kite-job", "tick", "--fast")
    assert (out.returncode, out.stdout.strip()) == (6, "kite --fast"), out.stderr
    listed = run_cli("--help")
    assert "kite-job" in listed.stdout and "waitbus-test-kitejob" in listed.stdout

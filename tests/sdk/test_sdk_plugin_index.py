"""The index of installed source plugins (waitbus._plugin_index): what `waitbus wait`
reads to find the source of the event it matched without importlib.metadata, and when
it must scan again. Real distributions: a dist-info directory written on sys.path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from waitbus import EventView, find_source, is_failure
from waitbus._plugin_index import INDEX_NAME, SOURCES_GROUP, source_entry_point


def install(site: Path, name: str, *, fails: bool) -> None:
    """A plugin distribution `name` with its module, as an installer lays it out."""
    (site / f"{name}_plugin.py").write_text(
        f"from waitbus import SourceSpec\nSOURCE = SourceSpec(name={name!r}, is_failure=lambda f: {fails})\n"
    )
    info = site / f"{name}_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{SOURCES_GROUP}]\n{name} = {name}_plugin:SOURCE\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    yield site
    for name in [m for m in sys.modules if m.endswith("_plugin")]:
        del sys.modules[name]


def event(source: str) -> EventView:
    return EventView(event_id="01ARZ3NDEKTSV4RRFFQ69G5FAV", event_type="t", source=source)


def index_path() -> Path:
    return Path(os.environ["WAITBUS_RUNTIME_DIR"]) / INDEX_NAME


def test_a_lookup_writes_the_index_and_a_later_one_is_served_by_it(site: Path) -> None:
    install(site, "kite1", fails=True)
    assert is_failure(event("kite1"))
    index = json.loads(index_path().read_text())
    assert index["groups"][SOURCES_GROUP]["kite1"] == "kite1_plugin:SOURCE"
    assert index["groups"][SOURCES_GROUP]["fs"] == "waitbus_sources_fs:SOURCE"  # the whole group at once
    # The index, not a scan, answers now: an entry it holds is believed...
    index["groups"][SOURCES_GROUP]["kite1"] = "kite1_plugin:NOT_THERE"
    index_path().write_text(json.dumps(index))
    ep = source_entry_point(SOURCES_GROUP, "kite1")
    assert ep is not None and ep.value == "kite1_plugin:NOT_THERE"


def test_installing_or_removing_a_plugin_is_seen_at_the_next_lookup(site: Path) -> None:
    assert find_source("kite2") is None
    assert index_path().exists()
    install(site, "kite2", fails=True)  # the directory's time changes: the index is stale
    spec = find_source("kite2")
    assert spec is not None and spec.name == "kite2"
    for p in sorted(site.glob("kite2_plugin-0.1.dist-info/*")):
        p.unlink()
    (site / "kite2_plugin-0.1.dist-info").rmdir()
    assert find_source("kite2") is None


def test_an_index_in_a_runtime_dir_others_can_write_is_never_read(site: Path) -> None:
    install(site, "kite3", fails=False)
    assert find_source("kite3") is not None
    index = json.loads(index_path().read_text())
    index["groups"][SOURCES_GROUP]["kite3"] = "os:system"  # what a planted index could name
    index_path().write_text(json.dumps(index))
    os.chmod(index_path().parent, 0o777)
    try:
        ep = source_entry_point(SOURCES_GROUP, "kite3")
        assert ep is not None and ep.value == "kite3_plugin:SOURCE"  # scanned again instead
    finally:
        os.chmod(index_path().parent, 0o700)


def test_a_damaged_index_is_scanned_over(site: Path) -> None:
    install(site, "kite4", fails=True)
    index_path().write_text("{not json")
    assert is_failure(event("kite4"))
    assert json.loads(index_path().read_text())["groups"][SOURCES_GROUP]["kite4"] == "kite4_plugin:SOURCE"


def test_the_verdict_for_a_source_without_a_plugin_loads_neither_the_plugin_door_nor_the_metadata() -> None:
    probe = textwrap.dedent(
        """
        import sys
        from waitbus import EventView, is_failure
        view = EventView(event_id="01ARZ3NDEKTSV4RRFFQ69G5FAV", event_type="t", source="nosuchsource")
        assert not is_failure(view)
        print(sorted(m for m in ("waitbus._sources", "importlib.metadata", "dataclasses") if m in sys.modules))
        """
    )
    seen = []
    for _ in range(2):  # the first process scans and writes the index; the second reads it
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, env=os.environ)
        assert out.returncode == 0, out.stderr
        seen.append(out.stdout.strip())
    assert seen == ["['importlib.metadata']", "[]"]


def test_a_plugin_seen_to_have_no_failure_rule_is_not_imported_for_the_next_verdict(site: Path) -> None:
    # `waitbus wait` on an fs event used to import the fs plugin (and through it the
    # SDK's dataclasses and typing, ~15 ms) only to learn that fs declares no rule.
    (site / "kite5_plugin.py").write_text("from waitbus import SourceSpec\nSOURCE = SourceSpec(name='kite5')\n")
    info = site / "kite5_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: kite5-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{SOURCES_GROUP}]\nkite5 = kite5_plugin:SOURCE\n")
    install(site, "kite6", fails=True)
    probe = textwrap.dedent(
        """
        import sys
        from waitbus import EventView, is_failure
        def view(source):
            return EventView(event_id="01ARZ3NDEKTSV4RRFFQ69G5FAV", event_type="t", source=source)
        verdict = is_failure(view(sys.argv[1]))
        print(verdict, sorted(m for m in ("kite5_plugin", "kite6_plugin", "waitbus._sources") if m in sys.modules))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(site)}

    def run(source: str) -> str:
        out = subprocess.run([sys.executable, "-c", probe, source], capture_output=True, text=True, timeout=60, env=env)
        assert out.returncode == 0, out.stderr
        return out.stdout.strip()

    assert run("kite5") == "False ['kite5_plugin', 'waitbus._sources']"  # loaded once, and remembered
    assert json.loads(index_path().read_text())["rules"] == {"kite5": False}
    assert run("kite5") == "False []"  # then answered from the index
    # A source whose plugin has a rule is always loaded: its rule decides.
    assert run("kite6") == "True ['kite6_plugin', 'waitbus._sources']"
    assert run("kite6") == "True ['kite6_plugin', 'waitbus._sources']"
    assert json.loads(index_path().read_text())["rules"] == {"kite5": False, "kite6": True}

"""Ignore globs and root attribution for absolute paths."""

from __future__ import annotations

import pytest

from waitbus_sources_fs import DEFAULT_IGNORE
from waitbus_sources_fs._ignore import Paths, Root


@pytest.mark.parametrize(
    "name",
    [
        ".app.py.swp",
        ".app.py.swo",
        ".app.py.swx",
        ".app.py.swpx",
        "4913",
        "app.py~",
        "#app.py#",
        ".#app.py",
        ".DS_Store",
        "app.py___jb_tmp___",
        "app.py___jb_old___",
        ".goutputstream-ABC123",
        "app.py.kate-swp",
    ],
)
def test_default_list_hides_editor_churn(name: str) -> None:
    paths = Paths([Root("/w", recursive=True)], DEFAULT_IGNORE)
    assert paths.ignored(f"/w/{name}")
    assert paths.ignored(f"/w/sub/{name}")


@pytest.mark.parametrize("name", ["app.py", "swp", "app.swpz", "49130", "notes.md", ".gitignore", "a#b"])
def test_default_list_keeps_real_files(name: str) -> None:
    paths = Paths([Root("/w", recursive=True)], DEFAULT_IGNORE)
    assert not paths.ignored(f"/w/{name}")


def test_a_glob_without_a_slash_matches_any_component_below_the_root() -> None:
    paths = Paths([Root("/home/u/node_modules_fan/w", recursive=True)], ("node_modules", "*.log"))
    assert paths.ignored("/home/u/node_modules_fan/w/node_modules/x/index.js")
    assert paths.ignored("/home/u/node_modules_fan/w/sub/run.log")
    assert not paths.ignored("/home/u/node_modules_fan/w/src/index.js")
    # Components above the root never count: watching a dir named like a glob still works.
    assert not Paths([Root("/tmp/a~", recursive=True)], DEFAULT_IGNORE).ignored("/tmp/a~/f.txt")


def test_a_glob_with_a_slash_matches_the_relative_path() -> None:
    paths = Paths([Root("/w", recursive=True)], ("build/*.o",))
    assert paths.ignored("/w/build/x.o")
    assert not paths.ignored("/w/x.o")
    assert not paths.ignored("/w/w/build/x.py")


def test_roots_report_their_own_paths_and_the_most_specific_wins() -> None:
    top = Root("/w", recursive=False)
    deep = Root("/w/src", recursive=True)
    one = Root("/w/etc", recursive=False, only="app.toml")
    paths = Paths([top, deep, one], ())
    assert paths.root_of("/w/a.py") == top
    assert paths.root_of("/w/src/x/y.py") == deep
    assert paths.root_of("/w/etc/app.toml") == one
    assert paths.root_of("/w/etc/other.toml") is None  # a sibling of a watched file
    assert paths.root_of("/w/docs/x.md") is None  # below a non-recursive root
    assert paths.root_of("/elsewhere/x") is None
    assert deep.rel("/w/src/x/y.py") == "x/y.py"


def test_only_a_glob_without_a_slash_hides_a_whole_tree() -> None:
    """What `hides` says needs no watch: every path below it must be ignored too."""
    paths = Paths([Root("/w", recursive=True)], ("node_modules", "build/*.o", "*~"))
    assert paths.hides("/w/node_modules") and paths.hides("/w/a/node_modules/b")
    assert paths.ignored("/w/node_modules/b/c.js")
    assert paths.hides("/w/old~")
    assert not paths.hides("/w/build/x.o")  # a slash glob: x.o/ may hold files it does not match
    assert paths.ignored("/w/build/x.o") and not paths.ignored("/w/build/x.o/y.c")
    assert not paths.hides("/w") and not paths.hides("/w/src")
    assert not paths.hides("/elsewhere/node_modules")  # outside every root: not this watch's to judge

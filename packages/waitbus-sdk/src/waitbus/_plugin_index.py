"""Which installed plugin serves each source name, remembered across processes.

`waitbus wait` asks for the source of the event it matched (its failure rule decides the
exit code). importlib.metadata costs ~20 ms to import and scan every distribution, on
every such exit; here its answer for the whole `waitbus.sources.v1` group is kept in
the private runtime dir, keyed by the interpreter and the modification times of every
sys.path entry. Installing, upgrading or removing a distribution changes its
directory's time, so the next lookup scans again. Nothing here imports a plugin.
"""

from __future__ import annotations

import json
import os
import sys

TYPE_CHECKING = False  # not `from typing import ...`: see `waitbus wait`'s start-up
if TYPE_CHECKING:
    from typing import Any

SOURCES_GROUP = "waitbus.sources.v1"
INDEX_NAME = "sources.v1.json"


class EntryPoint:
    """What find_source needs of an importlib.metadata.EntryPoint: its name, its value
    (`module:attr`) and load(), which imports the module and follows the attributes."""

    __slots__ = ("name", "value")

    def __init__(self, name: str, value: str) -> None:
        self.name, self.value = name, value

    def load(self) -> Any:
        module, _, attrs = self.value.partition("[")[0].partition(":")
        __import__(module.strip())
        obj = sys.modules[module.strip()]
        for attr in filter(None, attrs.strip().split(".")):
            obj = getattr(obj, attr)
        return obj


def _key() -> list[Any]:
    stamps: list[Any] = [sys.executable, sys.version]
    for entry in sys.path:
        try:
            stamps.append([entry, os.stat(entry or ".").st_mtime_ns])
        except OSError:
            stamps.append([entry, None])
    return stamps


def _scan(group: str) -> dict[str, str]:
    """name -> value for the group, the first distribution on sys.path winning, as
    `entry_points(group=..., name=...)` would answer first."""
    from importlib.metadata import entry_points

    found: dict[str, str] = {}
    for ep in entry_points(group=group):
        found.setdefault(ep.name, ep.value)
    return found


def _index_path() -> str | None:
    """The index file, or None when the runtime dir is not ours alone (a planted index
    would choose which module we import)."""
    # Imported here: a plugin that imports SOURCES_GROUP at start-up (pytest's) must not
    # load the store with it.
    from waitbus_store import PathError, check_private_dir

    from ._paths import dirs

    runtime = dirs()[1]
    try:
        check_private_dir(runtime)
    except (OSError, PathError):
        return None
    return os.path.join(runtime, INDEX_NAME)


def _read(path: str | None, key: list[Any]) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            index = json.load(f)
        return index if isinstance(index, dict) and index.get("key") == key else None
    except (OSError, ValueError):
        return None


def _write(path: str | None, index: dict[str, Any]) -> None:
    if path is None:
        return
    try:
        from waitbus_store import write_json_atomic

        write_json_atomic(path, index, indent=None)
    except OSError:
        pass


def known_failure_rule(name: str) -> bool | None:
    """Whether the installed plugin of source `name` declares a failure rule, as found
    the last time one was loaded with these installs (None: not known yet). A source
    with none (fs, docker) then needs no import of its plugin for a verdict."""
    index = _read(_index_path(), _key())
    rules = index.get("rules") if index is not None else None
    value = rules.get(name) if isinstance(rules, dict) else None
    return value if isinstance(value, bool) else None


def remember_failure_rule(name: str, has_rule: bool) -> None:
    """Record what loading the plugin of `name` showed (best effort, like the index)."""
    path, key = _index_path(), _key()
    index = _read(path, key)
    if index is None or not isinstance(index.get("groups"), dict):
        return  # no current index to add to: the next scan writes one
    rules = index.get("rules")
    if not isinstance(rules, dict):
        rules = {}
    if rules.get(name) is not has_rule:
        _write(path, {**index, "rules": {**rules, name: has_rule}})


def has_source_plugin(name: str) -> bool:
    """Whether an installed distribution declares the source `name` (no import of it)."""
    return source_entry_point(SOURCES_GROUP, name) is not None


def source_entry_point(group: str, name: str) -> EntryPoint | None:
    """The entry point `name` of `group`, from the index while it is current, else from a
    fresh scan that then replaces the index (best effort: an unusable runtime dir only
    means scanning every time)."""
    key = _key()
    path = _index_path()
    index = _read(path, key)
    try:
        if index is not None:
            value = index["groups"][group].get(name)
            return None if value is None else EntryPoint(name, value)
    except (KeyError, TypeError, AttributeError):
        pass
    found = _scan(group)
    _write(path, {"key": key, "groups": {group: found}})
    value = found.get(name)
    return None if value is None else EntryPoint(name, value)

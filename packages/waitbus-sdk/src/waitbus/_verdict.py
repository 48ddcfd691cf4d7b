"""The verdict of a matched event: is it a failure its source declares (a red CI run)?
Apart from _sources so that an event whose source has no plugin is answered without
importing it (dataclasses and typing, ~10 ms of a `waitbus wait` exit), nor is one whose
plugin was seen to declare no failure rule (the plugin index remembers it)."""

from __future__ import annotations

import sys

from ._plugin_index import has_source_plugin, known_failure_rule, remember_failure_rule

TYPE_CHECKING = False  # not `from typing import ...`: see the module docstring
if TYPE_CHECKING:
    from waitbus_wire import EventFrame, EventView


def is_failure(frame: EventFrame | EventView) -> bool:
    """True when the event's source declares it a failure (a red CI run): the verdict
    `waitbus wait` exits 1 on. False for a source that declares no such rule."""
    if not frame.source:
        return False
    # Nothing can be registered in-process without _sources; then only a plugin can
    # have a rule, and one whose plugin was seen to have none needs no import.
    plugins_only = "waitbus._sources" not in sys.modules
    # A rule recorded as absent was recorded for these very installs (the index's key),
    # so it answers with one read of the index, before asking whether a plugin exists.
    if plugins_only and (known_failure_rule(frame.source) is False or not has_source_plugin(frame.source)):
        return False
    from ._sources import find_source

    try:
        spec = find_source(frame.source)
    except ValueError:
        return False  # a broken plugin cannot turn a match into a failure
    rule = spec.is_failure if spec is not None else None
    if plugins_only and spec is not None:
        remember_failure_rule(frame.source, rule is not None)
    # An EventView (wait_event) has every attribute of the EventFrame the rule is typed for.
    return bool(rule is not None and rule(frame))  # type: ignore[arg-type]

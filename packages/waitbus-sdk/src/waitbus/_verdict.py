"""The verdict of a matched event: is it a failure its source declares (a red CI run)?
Apart from _sources so that an event whose source has no plugin is answered without
importing it (dataclasses and typing, ~10 ms of a `waitbus wait` exit)."""

from __future__ import annotations

import sys

from ._plugin_index import has_source_plugin

TYPE_CHECKING = False  # not `from typing import ...`: see the module docstring
if TYPE_CHECKING:
    from waitbus_wire import EventFrame, EventView


def is_failure(frame: EventFrame | EventView) -> bool:
    """True when the event's source declares it a failure (a red CI run): the verdict
    `waitbus wait` exits 1 on. False for a source that declares no such rule."""
    if not frame.source:
        return False
    if "waitbus._sources" not in sys.modules and not has_source_plugin(frame.source):
        return False  # nothing registered in-process (that needs _sources), and no plugin
    from ._sources import find_source

    try:
        spec = find_source(frame.source)
    except ValueError:
        return False  # a broken plugin cannot turn a match into a failure
    # An EventView (wait_event) has every attribute of the EventFrame the rule is typed for.
    return bool(spec is not None and spec.is_failure is not None and spec.is_failure(frame))  # type: ignore[arg-type]

"""One error base per package: every public exception class a distribution defines
derives from that distribution's one base (WireError, StoreBaseError, HubError,
WaitbusError, CliError, BridgeError, GitHubError, AlertmanagerError, ...), so a caller can
catch "anything this package raised on purpose" in one clause. Leading-underscore
exceptions are private control flow and not counted."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

EXPECTED = {
    "waitbus_wire": "WireError",
    "waitbus_store": "StoreBaseError",
    "waitbus_hub": "HubError",
    "waitbus": "WaitbusError",
    "waitbus_cli": "CliError",
    "waitbus_bridge_nats": "BridgeError",
    "waitbus_sources_github": "GitHubError",
    "waitbus_sources_alertmanager": "AlertmanagerError",
}


def exception_classes(top: str) -> dict[str, type[BaseException]]:
    package = importlib.import_module(top)
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(package.__path__, prefix=f"{top}."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in inspect.getmembers(module, inspect.isclass):
            if issubclass(obj, BaseException) and obj.__module__.startswith(f"{top}.") and not name.startswith("_"):
                found[name] = obj
    return found


def roots(classes: dict[str, type[BaseException]], top: str) -> set[str]:
    """The classes none of whose ancestors is another exception class of `top`."""
    return {
        name
        for name, cls in classes.items()
        if not any(base.__module__.startswith(f"{top}.") for base in cls.__mro__[1:])
    }


def test_every_package_has_one_error_base(package: Any) -> None:
    top = package.import_name
    if top is None:
        return  # the meta-package has no code
    found = roots(exception_classes(top), top)
    assert len(found) <= 1, f"{package.name} has {len(found)} unrelated error bases: {sorted(found)}"
    if top in EXPECTED:
        assert found == {EXPECTED[top]}
        if top != "waitbus_cli":  # an application: its errors are not an API
            assert getattr(importlib.import_module(top), EXPECTED[top]).__name__ == EXPECTED[top]

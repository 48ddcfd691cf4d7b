"""PEP 562 lazy exports: a package's public names load on first use.

Every waitbus package's `__init__` maps each public name to the module that defines
it, so importing the package costs almost nothing and a caller pays only for the
part it touches. This is the one copy of that mechanism.
"""

from __future__ import annotations

import sys
from importlib import import_module

TYPE_CHECKING = False  # not `from typing import ...`: keeps every `__init__` nearly free
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping


def lazy_exports(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """Return a package's `__getattr__` and `__dir__` for `where` (name -> module).

    A module is absolute (`"waitbus_wire"`) or relative to `package` (`"._event"`).
    A loaded name is stored in the package, so later lookups skip `__getattr__`.
    """

    def __getattr__(name: str) -> object:
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(module, package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(where))

    return __getattr__, __dir__

"""lazy_exports: the one PEP 562 mechanism every waitbus package's __init__ uses."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator

import pytest

import waitbus
import waitbus_hub
import waitbus_sources_alertmanager
import waitbus_store
import waitbus_wire
from waitbus_wire import lazy_exports


@pytest.fixture
def package() -> Iterator[types.ModuleType]:
    """A throwaway package whose names point at a stdlib module (absolute) and at a real one."""
    module = types.ModuleType("lazy_probe")
    where = {"dumps": "json", "ExitCode": "waitbus_wire"}
    module.__getattr__, module.__dir__ = lazy_exports("lazy_probe", where)  # type: ignore[method-assign]
    sys.modules["lazy_probe"] = module
    yield module
    del sys.modules["lazy_probe"]


def test_a_name_loads_on_first_use_and_is_kept(package: types.ModuleType) -> None:
    import json

    assert "dumps" not in vars(package)
    assert package.dumps is json.dumps
    assert vars(package)["dumps"] is json.dumps  # later lookups skip __getattr__


def test_an_unknown_name_is_an_attribute_error(package: types.ModuleType) -> None:
    with pytest.raises(AttributeError, match="module 'lazy_probe' has no attribute 'nope'"):
        package.nope  # noqa: B018


def test_dir_lists_the_lazy_names_before_they_load(package: types.ModuleType) -> None:
    assert {"dumps", "ExitCode"} <= set(dir(package))


@pytest.mark.parametrize(
    "module",
    [waitbus, waitbus_hub, waitbus_store, waitbus_wire, waitbus_sources_alertmanager],
    ids=lambda m: m.__name__,
)
def test_every_public_name_of_every_user_resolves(module: types.ModuleType) -> None:
    for name in module.__all__:
        assert getattr(module, name) is not None
        assert name in dir(module)
    with pytest.raises(AttributeError):
        module.no_such_name  # noqa: B018

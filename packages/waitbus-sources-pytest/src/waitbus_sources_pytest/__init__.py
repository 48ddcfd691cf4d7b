"""waitbus-sources-pytest: a pytest plugin that publishes each test session to waitbus.

Installed, it loads into every pytest run (entry point `pytest11`, plugin name
`waitbus`) and, when the session ends, emits one `pytest_session` event (outcome,
counts, duration, rootdir, invocation); with `--waitbus-failures` or
`WAITBUS_PYTEST_FAILURES=1` also one `pytest_failure` event per failing test.
Disable it with `-p no:waitbus` or `WAITBUS_PYTEST=0`. See docs/source-pytest.md.

`SOURCE` is the source's declaration for the plugin door (`waitbus.sources.v1`).
It is built on first access: pytest imports this package at start-up, and a test
run must not pay for the SDK until the session is over.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not `from typing import ...`: keep pytest's start-up free of it
if TYPE_CHECKING:
    from waitbus import SourceSpec

    SOURCE: SourceSpec

__all__ = ["SOURCE"]


def __getattr__(name: str) -> object:
    if name == "SOURCE":
        from ._spec import make_source

        value = make_source()
        globals()["SOURCE"] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module 'waitbus_sources_pytest' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), "SOURCE"})

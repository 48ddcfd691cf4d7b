"""Fixtures for the store tests: a real SQLite file per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from waitbus_store import InsertResult, Store
from waitbus_wire import encode_fields

Insert = Callable[..., InsertResult]


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "db" / "events.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with Store(db_path) as s:
        yield s


@pytest.fixture
def insert(store: Store) -> Insert:
    """insert(delivery_id=..., source=..., event_type=..., fields={...}, **rest)."""

    def add(
        *, source: str = "test", event_type: str = "thing", fields: dict[str, object] | None = None, **rest: Any
    ) -> InsertResult:
        return store.insert(
            source=source, event_type=event_type, fields=encode_fields(source, event_type, fields), **rest
        )

    return add

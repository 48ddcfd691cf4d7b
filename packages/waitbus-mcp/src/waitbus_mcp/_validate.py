"""Tool argument checking: every bad argument becomes one sentence naming the tool,
the argument, the rule and what was given, so a model can fix its call."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

MAX_WAIT_S = 300.0
MAX_LIMIT = 200
_SHOWN = 80


class ToolInputError(ValueError):
    """A tool was called with arguments it cannot use; the message says how to fix it."""


def shown(value: Any) -> str:
    """A short JSON rendering of a bad value for an error message."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class Args:
    """Typed access to one call's arguments. Each getter consumes its key; `done()`
    then refuses any key the tool does not know."""

    def __init__(self, tool: str, raw: Mapping[str, Any] | None, accepted: list[str]) -> None:
        self.tool = tool
        self.raw = dict(raw or {})
        self.accepted = accepted

    def error(self, name: str, rule: str, value: Any = None, *, given: bool = True) -> ToolInputError:
        tail = f"; got {shown(value)} ({_kind(value)})" if given else ""
        return ToolInputError(f"{self.tool}: `{name}` {rule}{tail}")

    def done(self) -> None:
        unknown = sorted(set(self.raw) - set(self.accepted))
        if unknown:
            names = ", ".join(f"`{n}`" for n in unknown)
            allowed = ", ".join(f"`{n}`" for n in self.accepted) or "none"
            raise ToolInputError(f"{self.tool}: unknown argument {names}; this tool accepts {allowed}")

    def _get(self, name: str, required: bool) -> Any:
        value = self.raw.get(name)
        if value is None and required:
            raise self.error(name, "is required", given=False)
        return value

    def text(self, name: str, *, required: bool = False, max_len: int = 200, one_line: bool = True) -> str | None:
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.error(name, "must be a non-empty string", value)
        if len(value) > max_len:
            raise self.error(name, f"must be at most {max_len} characters (it has {len(value)})", given=False)
        if one_line and ("\n" in value or "\r" in value):
            raise self.error(name, "must be one line (no newline)", value)
        return value

    def required_text(self, name: str, *, max_len: int = 200, one_line: bool = True) -> str:
        value = self.text(name, required=True, max_len=max_len, one_line=one_line)
        assert value is not None
        return value

    def number(self, name: str, *, default: float, low: float = 0.0, high: float = MAX_WAIT_S) -> float:
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(name, f"must be a number of seconds from {low:g} to {high:g}", value)
        if not low <= value <= high:
            raise self.error(name, f"must be from {low:g} to {high:g} seconds", value)
        return float(value)

    def integer(self, name: str, *, default: int, low: int = 1, high: int = MAX_LIMIT) -> int:
        value = self.raw.get(name)
        if value is None:
            return default
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(name, f"must be a whole number from {low} to {high}", value)
        if not low <= value <= high:
            raise self.error(name, f"must be from {low} to {high}", value)
        return value

    def cursor(self, name: str) -> str | None:
        """An event id (ULID) or null."""
        from waitbus_wire import is_ulid

        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, str) or not is_ulid(value):
            raise self.error(
                name, "must be an event id (a 26-character ULID such as 01JD5Z8Q4W6E7R8T9Y0A1B2C3D) or null", value
            )
        return value

    def since(self, name: str) -> str | float | None:
        """An event id, or a number of seconds to look back."""
        from waitbus_wire import is_ulid

        value = self.raw.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            if is_ulid(value):
                return value
            try:
                number = float(value)
            except ValueError:
                raise self.error(
                    name, "must be an event id (26-character ULID) or a number of seconds to look back", value
                ) from None
            value = number
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise self.error(name, "must be an event id (26-character ULID) or a number of seconds >= 0", value)
        return float(value)

    def specs(self, name: str) -> list[str] | None:
        """One `key=json` spec or a list of them."""
        value = self.raw.get(name)
        if value is None:
            return None
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not all(isinstance(s, str) for s in items):
            raise self.error(
                name, 'must be a `key=json` string or a list of them, e.g. ["fields.outcome=\\"failed\\""]', value
            )
        if len(items) > 64:
            raise self.error(name, f"may hold at most 64 specs (it has {len(items)})", given=False)
        return list(items)

    def clauses(self, name: str) -> list[str | list[str]] | None:
        """all_of / first_of: a list of `source:key=json` strings or lists of specs."""
        value = self.raw.get(name)
        if value is None:
            return None
        rule = (
            "must be a non-empty list of `source:key=json` strings (or lists of specs), "
            'e.g. ["github:fields.conclusion=\\"success\\""]'
        )
        if not isinstance(value, list) or not value:
            raise self.error(name, rule, value)
        out: list[str | list[str]] = []
        for item in value:
            if isinstance(item, str):
                out.append(item)
            elif isinstance(item, list) and item and all(isinstance(s, str) for s in item):
                out.append(list(item))
            else:
                raise self.error(name, rule, value)
        if len(out) > 64:
            raise self.error(name, f"may hold at most 64 clauses (it has {len(out)})", given=False)
        return out

    def obj(self, name: str) -> dict[str, Any] | None:
        value = self.raw.get(name)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(name, "must be a JSON object", value)
        return value

    def any(self, name: str, *, required: bool = False) -> Any:
        if required and name not in self.raw:
            raise self.error(name, "is required", given=False)
        return self.raw.get(name)

    def flag(self, name: str, *, default: bool) -> bool:
        value = self.raw.get(name)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.error(name, "must be true or false", value)
        return value

"""A real Chromium (Debian's, driven by Playwright for Python through executable_path:
Playwright cannot download its own browser here) with a fresh profile per test, and a
real `waitbus-web` server against a real hub. Where chromium or playwright is missing,
the tests skip and say why (tools/peers/chromium.sh installs the browser)."""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support.web import web, web_factory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
__all__ = ["web", "web_factory"]  # the fixtures, shared with tests/web


def _why_not() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed in this venv: make venv installs it (the test tools)"
    if not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)):
        return f"no {CHROMIUM}: run tools/peers/chromium.sh (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Any]:
    why = _why_not()
    if why:
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture
def browser(playwright_driver: Any, tmp_path: Path) -> Iterator[Any]:
    """A fresh Chromium profile (its own user-data-dir), in UTC."""
    context = playwright_driver.chromium.launch_persistent_context(
        str(tmp_path / "chromium-profile"),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_ARGS,
        timezone_id="UTC",
        viewport={"width": 1400, "height": 900},
    )
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()

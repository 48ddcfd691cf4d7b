"""Fixtures for the waitbus-web tests: a real hub and a real `waitbus-web` process
(tests/_support/web.py, shared with integration/web)."""

from tests._support.web import web, web_factory

__all__ = ["web", "web_factory"]

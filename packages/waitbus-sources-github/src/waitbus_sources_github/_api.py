"""A small GitHub REST client for the poller: conditional GETs, bounded retries with
stamina on 5xx and connection errors, and a running view of the rate limit.

stdlib urllib underneath: the poller makes a handful of GETs per pass, and a 304 to a
request with `If-None-Match` does not count against GitHub's rate limit.
"""

from __future__ import annotations

import ipaddress
import json
import time
import urllib.error
import urllib.request
from email.message import Message
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from ._errors import GitHubError

DEFAULT_API = "https://api.github.com"
USER_AGENT = "waitbus-etag-poll/0.1.0"


class Response(NamedTuple):
    status: int  # 200, or 304 (not modified: body is None)
    body: Any
    etag: str | None


class ApiError(GitHubError):
    """A request that failed for good (4xx, bad JSON, or 5xx / no connection after the
    retries); `status` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class RateLimited(GitHubError):
    """GitHub's budget is (nearly) spent; `reset_at` is when it refills (epoch seconds)."""

    def __init__(self, remaining: int | None, reset_at: float | None) -> None:
        self.remaining, self.reset_at = remaining, reset_at
        when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(reset_at)) if reset_at else "an unknown time"
        wait = f" (in {max(0, int(reset_at - time.time())) // 60}m)" if reset_at else ""
        left = "unknown" if remaining is None else str(remaining)
        super().__init__(f"GitHub rate limit low ({left} requests left); it resets at {when}{wait}")


class _Transient(Exception):
    """A 5xx or a connection failure: worth another attempt."""


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GitHubClient:
    def __init__(
        self,
        base: str,
        token: str | None,
        *,
        timeout: float = 10.0,
        attempts: int = 4,
        min_remaining: int = 20,
    ) -> None:
        if not base.startswith(("https://", "http://")):
            raise ValueError(f"the GitHub API base must be an http(s) URL; got {base!r}")
        self.base = base.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.attempts = max(1, attempts)
        self.min_remaining = min_remaining
        self.remaining: int | None = None
        self.reset_at: float | None = None
        self.requests = 0
        # A loopback base (a test stand-in, a local proxy) never goes through an HTTP proxy.
        handlers = [urllib.request.ProxyHandler({})] if _loopback(self.base) else []
        self._opener = urllib.request.build_opener(*handlers)

    def check_budget(self) -> None:
        """Raise RateLimited if the last response said the budget is low."""
        if self.remaining is not None and self.remaining < self.min_remaining:
            raise RateLimited(self.remaining, self.reset_at)

    def get(self, path: str, etag: str | None = None) -> Response:
        """GET base+path, with `If-None-Match: etag` when given."""
        import stamina

        self.check_budget()
        headers = {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": USER_AGENT,
        }
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if etag:
            headers["If-None-Match"] = etag
        url = self.base + path
        try:
            for attempt in stamina.retry_context(
                on=_Transient, attempts=self.attempts, timeout=60.0, wait_initial=0.2, wait_max=2.0, wait_jitter=0.2
            ):
                with attempt:
                    return self._once(url, headers)
        except _Transient as exc:
            raise ApiError(f"GET {path}: {exc} (gave up after {self.attempts} attempts)") from None
        raise AssertionError("unreachable: stamina either returns or raises")  # pragma: no cover

    def _once(self, url: str, headers: dict[str, str]) -> Response:
        request = urllib.request.Request(url, headers=headers, method="GET")  # noqa: S310 - http(s) only: checked in __init__
        self.requests += 1
        try:
            with self._opener.open(request, timeout=self.timeout) as resp:
                status, raw, hdrs = resp.status, resp.read(), resp.headers
        except urllib.error.HTTPError as exc:
            status, hdrs = exc.code, exc.headers
            raw = exc.read() if status != 304 else b""
            exc.close()
        except (urllib.error.URLError, OSError) as exc:  # refused, reset, DNS, timeout
            raise _Transient(f"no response ({getattr(exc, 'reason', exc)})") from None
        self._note_rate(hdrs)
        if status == 304:
            return Response(304, None, hdrs.get("ETag") or None)
        if status >= 500:
            raise _Transient(f"HTTP {status}")
        if status in (403, 429) and (self.remaining == 0 or hdrs.get("Retry-After")):
            retry_after = hdrs.get("Retry-After")
            if retry_after and retry_after.isdigit():
                self.reset_at = time.time() + int(retry_after)
            raise RateLimited(self.remaining, self.reset_at)
        if status != 200:
            raise ApiError(f"GET {urlsplit(url).path}: HTTP {status} {_message(raw)}", status)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise ApiError(f"GET {urlsplit(url).path}: the response is not JSON ({exc})") from None
        return Response(200, body, hdrs.get("ETag") or None)

    def _note_rate(self, headers: Message) -> None:
        remaining, reset = headers.get("X-RateLimit-Remaining"), headers.get("X-RateLimit-Reset")
        if remaining is not None and remaining.strip().isdigit():
            self.remaining = int(remaining)
        if reset is not None and reset.strip().isdigit():
            self.reset_at = float(reset)


def _message(raw: bytes) -> str:
    try:
        found = json.loads(raw).get("message")
    except (ValueError, AttributeError):
        return ""
    return f"({found})" if isinstance(found, str) else ""

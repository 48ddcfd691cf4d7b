"""Who may post alerts: Alertmanager's bearer token, or a signing proxy's HMAC.

Stock Alertmanager cannot sign bodies; it sends `Authorization: Bearer <credentials>`
from the receiver's `http_config.authorization`. A proxy in front of it may instead
sign the raw body (`X-Waitbus-Signature-256: sha256=<hex>`). Either one is enough;
both are compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from ._errors import AlertmanagerError
from ._names import HMAC_SECRET, SIGNATURE_HEADER, TOKEN_SECRET

NOT_STAGED = (
    f"no Alertmanager credential is staged: put the bearer token from the receiver's "
    f"http_config.authorization.credentials in with `waitbus install-credentials {TOKEN_SECRET}` "
    f"(or a signing proxy's key with `waitbus install-credentials {HMAC_SECRET}`), "
    "then restart the listener"
)


class AuthError(AlertmanagerError):
    """The request is not authenticated. `status` is 401, or 503 when nothing is staged."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def sign(secret: str, body: bytes) -> str:
    """The signature header value a signing proxy sends for `body`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip() or None


def authenticate(headers: Mapping[str, str], body: bytes, secrets: Mapping[str, str]) -> str:
    """Return how the request proved itself ("bearer" or "hmac"), or raise AuthError."""
    token = secrets.get(TOKEN_SECRET) or ""
    key = secrets.get(HMAC_SECRET) or ""
    if not token and not key:
        raise AuthError(503, NOT_STAGED)
    presented = _bearer(headers.get("authorization"))
    signature = headers.get(SIGNATURE_HEADER)
    if token and presented is not None and hmac.compare_digest(presented.encode(), token.encode()):
        return "bearer"
    if key and signature is not None:
        expected = sign(key, body)
        if hmac.compare_digest(signature.strip().lower().encode(), expected.encode()):
            return "hmac"
    if presented is None and signature is None:
        raise AuthError(401, "missing credentials: send Authorization: Bearer <alertmanager-token>")
    raise AuthError(401, "bad credentials: the bearer token or signature does not match the staged secret")

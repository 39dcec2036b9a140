"""Caller authentication: `Authorization: Bearer <master key>`, compared in constant time.

Every failure (no header, wrong scheme, several headers, unknown key) gets the
same 401 body, so a caller learns nothing from the difference.
"""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING

from gateway.errors import AuthenticationError
from gateway.http.dependencies import master_key

if TYPE_CHECKING:
    from starlette.requests import Request

MAX_KEY_LENGTH = 256


def _unauthorized() -> AuthenticationError:
    return AuthenticationError("Invalid API key. Send 'Authorization: Bearer <key>'.")


def bearer_token(request: Request) -> str:
    values = request.headers.getlist("authorization")
    if len(values) != 1:
        raise _unauthorized()
    scheme, _, token = values[0].partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_KEY_LENGTH:
        raise _unauthorized()
    if not token.isascii() or not token.isprintable():
        raise _unauthorized()
    return token


async def require_master_key(request: Request) -> None:
    token = bearer_token(request)
    expected = await master_key()
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise _unauthorized()

"""Caller authentication: the master key, or a virtual key verified by its SHA-256.

Every failure (no header, wrong scheme, several headers, unknown, blocked, expired
or revoked key) gets the same 401 body, so a caller learns nothing from the
difference. A key that cannot be verified because DynamoDB is unavailable gets 503
with Retry-After: never a 401 for a valid key, never a request served unverified.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.config import settings
from gateway.errors import AuthenticationError, PermissionDeniedError, ServiceUnavailableError
from gateway.http.dependencies import master_key, per_instance
from gateway.store.directory import Directory
from gateway.store.dynamo import DynamoUnavailableError
from gateway.store.keys import hash_key

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.store.directory import Identity

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 256


def _unauthorized() -> AuthenticationError:
    return AuthenticationError(
        "Invalid API key. Send 'Authorization: Bearer <key>' or 'x-api-key: <key>'."
    )


def bearer_token(request: Request) -> str:
    """`Authorization: Bearer <key>`, else Anthropic's `x-api-key: <key>` (what the anthropic
    SDK and Claude Code send with an API key), each at most once. With both, Authorization
    decides: x-api-key may then be a header meant for someone else, never a second try."""
    values = request.headers.getlist("authorization")
    keys = request.headers.getlist("x-api-key")
    if len(values) > 1 or (not values and len(keys) != 1):
        raise _unauthorized()
    if values:
        scheme, _, token = values[0].partition(" ")
    else:
        scheme, token = "bearer", keys[0]
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_KEY_LENGTH:
        raise _unauthorized()
    if not token.isascii() or not token.isprintable():
        raise _unauthorized()
    return token


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent the request: the master key (identity None) or a verified virtual key."""

    identity: Identity | None

    @property
    def is_master(self) -> bool:
        return self.identity is None


MASTER = Caller(identity=None)


async def _is_master(token: str) -> bool:
    expected = await master_key()
    return bool(expected) and hmac.compare_digest(token.encode(), str(expected).encode())


def directory(request: Request) -> Directory | None:
    """This app instance's key directory (its cache is the instance's own)."""
    return per_instance(request, "directory", lambda db: Directory(db, settings().key_cache_s))


async def authenticate(request: Request) -> Caller:
    token = bearer_token(request)
    if await _is_master(token):
        request.state.caller = MASTER  # for the request's telemetry
        return MASTER
    keys = directory(request)
    if keys is None:
        raise _unauthorized()
    try:
        identity = await keys.identify(hash_key(token))
    except DynamoUnavailableError:
        logger.warning("key lookup failed: DynamoDB unavailable")
        raise ServiceUnavailableError(
            "The gateway cannot verify keys right now; retry shortly.",
            headers={"retry-after": "2"},
        ) from None
    if identity is None:
        raise _unauthorized()
    caller = request.state.caller = Caller(identity=identity)
    return caller


async def require_master_key(request: Request) -> None:
    """Admin routes: the master key only. A valid virtual key is 403, anything else 401."""
    caller = await authenticate(request)
    if not caller.is_master:
        raise PermissionDeniedError("This route needs the master key.")

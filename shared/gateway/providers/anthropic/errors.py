"""Anthropic error bodies and stream `error` events -> gateway errors.

Body: {"type": "error", "error": {"type": ..., "message": ...}, "request_id": ...}.
Classified by `error.type` (https://docs.anthropic.com/en/api/errors). The API
has no code for an over-long prompt; its invalid_request_error message starts
with "prompt is too long", the one message we match.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from gateway.errors import (
    ContextLengthError,
    GatewayError,
    InvalidRequestError,
    RateLimitError,
    RequestTooLargeError,
    ServiceUnavailableError,
    UpstreamAuthError,
    UpstreamError,
    UpstreamTimeoutError,
)
from gateway.providers import failures

if TYPE_CHECKING:
    from collections.abc import Mapping

ERRORS: Mapping[str, type[GatewayError]] = {
    "invalid_request_error": InvalidRequestError,
    "authentication_error": UpstreamAuthError,  # the gateway's key, not the client's
    "permission_error": UpstreamAuthError,
    "billing_error": UpstreamError,  # the gateway's account
    "not_found_error": UpstreamError,
    "request_too_large": RequestTooLargeError,
    "rate_limit_error": RateLimitError,
    "api_error": UpstreamError,
    "timeout_error": UpstreamTimeoutError,
    "overloaded_error": ServiceUnavailableError,
}

# The documented status of each type: it words the message, and it classifies
# an error event that arrives inside a 200 stream.
STATUSES: dict[str, int] = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}

CONTEXT_LENGTH_PREFIX = "prompt is too long"


def error_from(data: Any, status: int, headers: Mapping[str, str]) -> GatewayError:
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return failures.for_status(status if status >= 400 else 502, "", headers)
    kind = str(err.get("type"))
    detail = failures.vendor_message(err.get("message"))
    if kind == "invalid_request_error" and detail.lower().startswith(CONTEXT_LENGTH_PREFIX):
        return ContextLengthError(f"The request exceeds this model's context window: {detail}")
    if kind == "api_error" and status >= 500:
        return failures.for_status(status, detail, headers)  # 502/503/504 say more than the type
    cls = ERRORS.get(kind)
    if cls is None:
        if status < 400:
            return UpstreamError(f"The provider failed mid-stream: {detail}")
        return failures.for_status(status, detail, headers)
    mapped = failures.for_status(STATUSES[kind], detail, headers)
    if type(mapped) is not cls:
        mapped = cls(mapped.message, headers=mapped.headers)
    return mapped


def map_error(status: int, body: bytes, headers: Mapping[str, str]) -> GatewayError:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    return error_from(data, status, headers)

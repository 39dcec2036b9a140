"""Gateway errors in Anthropic's shape, for the Messages API.

Body: {"type": "error", "error": {"type", "message"}, "request_id"}, with the
status codes Anthropic documents (https://docs.anthropic.com/en/api/errors), so
the anthropic SDK raises the same classes it would against Anthropic: a limit or
budget refusal is 429 rate_limit_error, an unavailable upstream 529
overloaded_error, any other provider failure 500 api_error. In a stream that has
started, the same body is an `error` event.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from gateway.providers import sse

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.errors import GatewayError

TYPES: Mapping[int, str] = MappingProxyType(
    {
        400: "invalid_request_error",
        401: "authentication_error",
        402: "billing_error",
        403: "permission_error",
        404: "not_found_error",
        408: "timeout_error",
        413: "request_too_large",
        429: "rate_limit_error",
        500: "api_error",
        504: "timeout_error",
        529: "overloaded_error",
    }
)


def status_of(error: GatewayError) -> int:
    if error.status in TYPES:
        return error.status
    if error.status == 503:
        return 529  # Anthropic's word for "overloaded, retry later"
    return 500 if error.status >= 500 else 400


def body(error: GatewayError, request_id: str | None = None) -> dict[str, object]:
    out: dict[str, object] = {
        "type": "error",
        "error": {"type": TYPES[status_of(error)], "message": error.message},
    }
    if request_id is not None:
        out["request_id"] = request_id
    return out


def event(error: GatewayError) -> bytes:
    return sse.encode_event("error", body(error))

"""Bedrock exceptions -> gateway errors, for HTTP failures and in-stream exception events.

An HTTP failure names its exception in the `x-amzn-errortype` header
("ValidationException:http://internal.amazon.com/coral/..."), or in the body's
`__type`; the body's `message` (some services: `Message`) says why. An in-stream
exception event is named by its `:exception-type` ("throttlingException").
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import failures

if TYPE_CHECKING:
    from collections.abc import Mapping

ERRORS: Mapping[str, type[errors.GatewayError]] = MappingProxyType(
    {
        "ValidationException": errors.InvalidRequestError,
        "ThrottlingException": errors.RateLimitError,
        "ServiceQuotaExceededException": errors.RateLimitError,
        "ServiceUnavailableException": errors.ServiceUnavailableError,
        "ModelNotReadyException": errors.ServiceUnavailableError,
        "ModelTimeoutException": errors.UpstreamTimeoutError,
        "AccessDeniedException": errors.UpstreamAuthError,
        "UnrecognizedClientException": errors.UpstreamAuthError,
        "InvalidSignatureException": errors.UpstreamAuthError,
        "ExpiredTokenException": errors.UpstreamAuthError,
        "IncompleteSignatureException": errors.UpstreamAuthError,
        "MissingAuthenticationTokenException": errors.UpstreamAuthError,
        "ResourceNotFoundException": errors.UpstreamError,
        "InternalServerException": errors.UpstreamError,
        "ModelErrorException": errors.UpstreamError,
        "ModelStreamErrorException": errors.UpstreamError,
    }
)

_MESSAGES: Mapping[type[errors.GatewayError], str] = MappingProxyType(
    {
        errors.InvalidRequestError: "The provider rejected the request",
        errors.RateLimitError: "The provider is rate limiting this model",
        errors.ServiceUnavailableError: "The provider is not ready to serve this model",
        errors.UpstreamTimeoutError: "The provider timed out",
        errors.UpstreamError: "The provider failed",
    }
)

# ValidationException is Bedrock's only code for an over-long prompt, so the
# message is all there is to tell it apart; these are the models' wordings.
_CONTEXT_MARKERS = (
    "input is too long",
    "prompt is too long",
    "too many input tokens",
    "input tokens exceed",
    "maximum context length",
    "context window",
)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def _kind(raw: Any) -> str:
    """'ValidationException:http://...' or 'com.amazon...#ValidationException'."""
    if not isinstance(raw, str):
        return ""
    return raw.split(":", 1)[0].rsplit("#", 1)[-1].strip()


def _detail(data: Any) -> str:
    if not isinstance(data, dict):
        return ""
    return failures.vendor_message(data.get("message") or data.get("Message"))


def error_from(
    kind: str, detail: str, status: int, headers: Mapping[str, str]
) -> errors.GatewayError:
    suffix = f": {detail}" if detail else "."
    cls = ERRORS.get(kind)
    if cls is None:
        return failures.for_status(status, detail, headers)
    if cls is errors.InvalidRequestError and any(
        marker in detail.lower() for marker in _CONTEXT_MARKERS
    ):
        return errors.ContextLengthError(f"The prompt is too long for this model{suffix}")
    if cls is errors.UpstreamAuthError:
        # AWS auth messages name the gateway's role and account: never forwarded.
        return cls("The provider rejected the gateway's credentials for this model.")
    if kind == "ResourceNotFoundException":
        return cls(f"The provider does not know this model{suffix}")
    retry = failures.retry_after_headers(headers)
    if cls is errors.ServiceUnavailableError:
        retry = retry or {"retry-after": "1"}
    return cls(f"{_MESSAGES.get(cls, 'The provider failed')}{suffix}", headers=retry)


def map_error(status: int, body: bytes, headers: Mapping[str, str]) -> errors.GatewayError:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    raw_kind = _header(headers, "x-amzn-errortype")
    if raw_kind is None and isinstance(data, dict):
        raw_kind = data.get("__type") or data.get("code")
    return error_from(_kind(raw_kind), _detail(data), status, headers)


def stream_error(name: str, payload: str) -> errors.GatewayError:
    """An exception event inside a 200 stream; unknown ones are provider failures."""
    try:
        data = json.loads(payload)
    except ValueError:
        data = None
    kind = name[:1].upper() + name[1:]
    return error_from(kind, _detail(data), 502, {})

"""Gemini and Vertex AI errors -> gateway errors, for HTTP failures and in-stream errors.

Both APIs answer a failure with a google.rpc.Status body,
{"error": {"code", "message", "status", "details"}} (https://ai.google.dev/gemini-api/docs/troubleshooting,
https://cloud.google.com/apis/design/errors); Vertex AI may wrap it in a one-item array.
It is classified by `status`, the canonical code name, with these exceptions:

- INVALID_ARGUMENT is also Gemini's code for an over-long prompt, which has no code of
  its own; its message ("The input token count ... exceeds the maximum number of
  tokens allowed", Vertex AI: "the input token count is N but model only supports up
  to M") is the one message read, and becomes context_length_exceeded.
- An invalid AI Studio key is INVALID_ARGUMENT with ErrorInfo reason API_KEY_INVALID:
  the gateway's credentials, so upstream_auth_failed like UNAUTHENTICATED and
  PERMISSION_DENIED. Their messages and details (a DebugInfo may quote the key, a
  message may name the project) are never passed on.
- FAILED_PRECONDITION is the deployment's account, not the request ("free tier is not
  available in your country. Please enable billing", a model not enabled for the
  project or region): a provider failure (502) that another deployment may not have.
- RESOURCE_EXHAUSTED is a rate limit; its google.rpc.RetryInfo `retryDelay` ("37s")
  becomes retry-after when the response has no Retry-After header.
"""

from __future__ import annotations

import json
import math
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import failures

if TYPE_CHECKING:
    from collections.abc import Mapping

ERRORS: Mapping[str, type[errors.GatewayError]] = MappingProxyType(
    {
        "INVALID_ARGUMENT": errors.InvalidRequestError,
        "OUT_OF_RANGE": errors.InvalidRequestError,
        "ALREADY_EXISTS": errors.InvalidRequestError,
        "FAILED_PRECONDITION": errors.UpstreamError,
        "UNAUTHENTICATED": errors.UpstreamAuthError,
        "PERMISSION_DENIED": errors.UpstreamAuthError,
        "NOT_FOUND": errors.UpstreamError,
        "RESOURCE_EXHAUSTED": errors.RateLimitError,
        "ABORTED": errors.UpstreamError,
        "CANCELLED": errors.UpstreamError,
        "UNKNOWN": errors.UpstreamError,
        "INTERNAL": errors.UpstreamError,
        "DATA_LOSS": errors.UpstreamError,
        "UNIMPLEMENTED": errors.UpstreamError,
        "UNAVAILABLE": errors.ServiceUnavailableError,
        "DEADLINE_EXCEEDED": errors.UpstreamTimeoutError,
    }
)

_MESSAGES: Mapping[type[errors.GatewayError], str] = MappingProxyType(
    {
        errors.InvalidRequestError: "The provider rejected the request",
        errors.RateLimitError: "The provider is rate limiting this model",
        errors.ServiceUnavailableError: "The provider is overloaded",
        errors.UpstreamTimeoutError: "The provider timed out",
        errors.UpstreamError: "The provider failed",
    }
)

AUTH_REASONS = frozenset({"API_KEY_INVALID"})  # google.rpc.ErrorInfo reasons
_CONTEXT_MARKERS = ("input token count", "maximum number of tokens")


def _status_body(data: Any) -> dict[str, Any] | None:
    if isinstance(data, list) and len(data) == 1:
        data = data[0]
    err = data.get("error") if isinstance(data, dict) else None
    return err if isinstance(err, dict) else None


def _details(err: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    details = err.get("details")
    if not isinstance(details, list):
        return []
    suffix = f"google.rpc.{kind}"
    return [d for d in details if isinstance(d, dict) and str(d.get("@type", "")).endswith(suffix)]


def _retry_delay(err: dict[str, Any]) -> dict[str, str]:
    for info in _details(err, "RetryInfo"):
        delay = str(info.get("retryDelay", "")).removesuffix("s")
        try:
            seconds = float(delay)
        except ValueError:
            continue
        if math.isfinite(seconds) and seconds >= 0:
            return {"retry-after": str(max(1, math.ceil(seconds)))}
    return {}


def error_from(data: Any, status: int, headers: Mapping[str, str]) -> errors.GatewayError:
    """The gateway error for a google.rpc.Status body; `status` < 400 means in a stream."""
    err = _status_body(data)
    if err is None:
        return failures.for_status(status if status >= 400 else 502, "", headers)
    kind = str(err.get("status", ""))
    detail = failures.vendor_message(err.get("message"))
    suffix = f": {detail}" if detail else "."
    cls = ERRORS.get(kind)
    reasons = {str(info.get("reason")) for info in _details(err, "ErrorInfo")}
    if cls is errors.UpstreamAuthError or reasons & AUTH_REASONS:
        return errors.UpstreamAuthError(
            "The provider rejected the gateway's credentials for this model."
        )
    if cls is None:
        code = err.get("code")
        if status < 400 and isinstance(code, int) and code >= 400:
            status = code
        if status < 400:
            return errors.UpstreamError(f"The provider failed mid-stream{suffix}")
        return failures.for_status(status, detail, headers)
    if cls is errors.InvalidRequestError and any(m in detail.lower() for m in _CONTEXT_MARKERS):
        return errors.ContextLengthError(f"The prompt is too long for this model{suffix}")
    if kind == "NOT_FOUND":
        return cls(f"The provider does not know this model{suffix}")
    retry = failures.retry_after_headers(headers) or _retry_delay(err)
    if cls is errors.ServiceUnavailableError:
        retry = retry or {"retry-after": "1"}
    return cls(f"{_MESSAGES.get(cls, 'The provider failed')}{suffix}", headers=retry)


def map_error(status: int, body: bytes, headers: Mapping[str, str]) -> errors.GatewayError:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    return error_from(data, status, headers)

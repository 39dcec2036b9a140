"""Upstream failures by HTTP status: the fallback every dialect's map_error shares.

The client gets our message plus, at most, the vendor's own short `message`
field (redacted later by the pipeline); never the raw upstream body.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any

import orjson

from gateway import errors, numerals

if TYPE_CHECKING:
    from collections.abc import Mapping

_MAX_VENDOR_MESSAGE = 400


def retry_after_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Retry-After in whole seconds, from `retry-after` or `retry-after-ms`; a value that
    is not ASCII digits (an HTTP date, "²", "inf") is ignored."""
    seconds = numerals.whole(headers.get("retry-after"))
    if seconds is not None:
        return {"retry-after": str(seconds)}
    millis = numerals.decimal(headers.get("retry-after-ms"))
    if millis is not None:
        return {"retry-after": str(max(1, math.ceil(millis / 1000)))}
    return {}


def vendor_message(text: object) -> str:
    """A vendor's error message, flattened and bounded."""
    if not isinstance(text, str):
        return ""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat[:_MAX_VENDOR_MESSAGE]


def for_status(status: int, detail: str, headers: Mapping[str, str]) -> errors.GatewayError:
    """Map an upstream status to the gateway error a client should see."""
    suffix = f": {detail}" if detail else "."
    retry = retry_after_headers(headers)
    if status in (401, 403):
        return errors.UpstreamAuthError(
            "The provider rejected the gateway's credentials for this model."
        )
    if status == 404:
        return errors.UpstreamError(f"The provider does not know this model{suffix}")
    if status in (408, 504):
        return errors.UpstreamTimeoutError("The provider timed out.", headers=retry)
    if status == 413:
        return errors.InvalidRequestError(f"The provider says the request is too large{suffix}")
    if status == 429:
        return errors.RateLimitError(
            f"The provider is rate limiting this model{suffix}", headers=retry
        )
    if 400 <= status < 500:
        return errors.InvalidRequestError(f"The provider rejected the request{suffix}")
    if status in (503, 529):
        return errors.ServiceUnavailableError(
            f"The provider is overloaded{suffix}", headers=retry or {"retry-after": "1"}
        )
    return errors.UpstreamError(f"The provider failed with status {status}.")


def json_object(body: bytes | str) -> dict[str, Any]:
    """A provider's JSON object (response or stream event); anything else is a 502."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise errors.UpstreamError("The provider sent an invalid response.")
    return data

"""What a failed attempt means for the request: retry, cool the deployment, fall back, or stop.

Retried (on another deployment when one is healthy, else after a backoff): 408, 429,
5xx, 529, connection errors and timeouts, and our provider key refused (401/403: that
deployment is misconfigured, another may not be). Never retried: any other 4xx the
request itself caused. Each kind maps to LiteLLM's RetryPolicy field.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from gateway import errors

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 8.0


@dataclass(frozen=True, slots=True)
class Failure:
    kind: str  # LiteLLM's RetryPolicy field for it
    retryable: bool
    cools: bool  # counts toward the deployment's cooldown
    retry_after_s: float | None
    fallback: str  # which fallback list applies: "generic", "context_window", "content_policy"


def classify(error: errors.GatewayError) -> Failure:
    retry_after = _retry_after(error)
    if isinstance(error, errors.ContextLengthError):
        return Failure("BadRequestErrorRetries", False, False, None, "context_window")
    if isinstance(error, errors.ContentPolicyError):
        return Failure("ContentPolicyViolationErrorRetries", False, False, None, "content_policy")
    if isinstance(error, errors.RateLimitError):
        return Failure("RateLimitErrorRetries", True, True, retry_after, "generic")
    if isinstance(error, errors.UpstreamTimeoutError):
        return Failure("TimeoutErrorRetries", True, True, None, "generic")
    if isinstance(error, errors.UpstreamAuthError):
        return Failure("AuthenticationErrorRetries", True, True, None, "generic")
    if isinstance(error, (errors.UpstreamError, errors.ServiceUnavailableError)):
        return Failure("InternalServerErrorRetries", True, True, retry_after, "generic")
    return Failure("BadRequestErrorRetries", False, False, None, "none")


def _retry_after(error: errors.GatewayError) -> float | None:
    value = error.headers.get("retry-after")
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None


def backoff_s(retry: int, retry_after_s: float | None) -> float:
    """The wait before retry number `retry` (1-based): the provider's Retry-After when it
    gave one, else exponential with full jitter, capped."""
    if retry_after_s is not None:
        return retry_after_s
    ceiling = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2 ** (retry - 1))
    return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not security

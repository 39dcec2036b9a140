"""The router's settings: LiteLLM's `router_settings` (and the same keys in `litellm_settings`).

router_settings:
  routing_strategy: simple-shuffle    # least-busy, latency-based-routing,
                                      # usage-based-routing, cost-based-routing
  num_retries: 2                      # retries per model group, after the first try
  retry_policy: {RateLimitErrorRetries: 3, TimeoutErrorRetries: 1, ...}
  allowed_fails: 3                    # retryable failures a minute before a cooldown
  cooldown_time: 5                    # seconds
  timeout: 600                        # the whole request, across retries and fallbacks
  fallbacks: [{gpt-4o: [claude-sonnet]}]
  context_window_fallbacks: [{gpt-4o-mini: [gpt-4o]}]
  content_policy_fallbacks: [{claude-sonnet: [gpt-4o]}]
  default_fallbacks: [gpt-4o-mini]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.config import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

STRATEGIES = frozenset(
    {
        "simple-shuffle",
        "least-busy",
        "latency-based-routing",
        "usage-based-routing",
        "usage-based-routing-v2",
        "cost-based-routing",
    }
)
# LiteLLM's RetryPolicy fields: retries for each kind of failure.
RETRY_CLASSES = frozenset(
    {
        "BadRequestErrorRetries",
        "AuthenticationErrorRetries",
        "TimeoutErrorRetries",
        "RateLimitErrorRetries",
        "ContentPolicyViolationErrorRetries",
        "InternalServerErrorRetries",
    }
)
MAX_RETRIES = 10


@dataclass(frozen=True, slots=True)
class RouterSettings:
    routing_strategy: str = "simple-shuffle"
    num_retries: int = 2
    retry_policy: Mapping[str, int] = field(default_factory=dict)
    allowed_fails: int = 3
    cooldown_time: float = 5.0
    timeout: float | None = None
    fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    context_window_fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    content_policy_fallbacks: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    default_fallbacks: tuple[str, ...] = ()

    def retries_for(self, kind: str, requested: int | None) -> int:
        """Retries for a failure kind: the request's num_retries, the policy, the default."""
        if requested is not None:
            return requested
        return self.retry_policy.get(kind, self.num_retries)


def fallback_map(raw: Any, what: str) -> dict[str, tuple[str, ...]]:
    """LiteLLM's `[{"a": ["b", "c"]}, ...]` (a mapping is accepted too)."""
    if raw is None:
        return {}
    entries = [raw] if isinstance(raw, dict) else raw
    out: dict[str, tuple[str, ...]] = {}
    if not isinstance(entries, list):
        raise ConfigError(f"{what} must be a list of {{model: [fallbacks]}}")
    for entry in entries:
        if not isinstance(entry, dict):
            raise ConfigError(f"{what} must be a list of {{model: [fallbacks]}}")
        for model, targets in entry.items():
            names = [targets] if isinstance(targets, str) else targets
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                raise ConfigError(f"{what}: fallbacks of '{model}' must be model names")
            out[str(model)] = tuple(names)
    return out


def _count(value: Any, what: str, upper: int = MAX_RETRIES) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= upper:
        raise ConfigError(f"{what} must be an integer from 0 to {upper}")
    return value


def _seconds(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"{what} must be a positive number of seconds")
    return float(value)


def parse_router_settings(raw: Mapping[str, Any]) -> RouterSettings:
    merged = {**(raw.get("litellm_settings") or {}), **(raw.get("router_settings") or {})}
    strategy = str(merged.get("routing_strategy", "simple-shuffle"))
    if strategy not in STRATEGIES:
        raise ConfigError(f"routing_strategy must be one of {', '.join(sorted(STRATEGIES))}")
    policy = merged.get("retry_policy") or {}
    if not isinstance(policy, dict) or not set(policy) <= RETRY_CLASSES:
        raise ConfigError(f"retry_policy keys must be among {', '.join(sorted(RETRY_CLASSES))}")
    defaults = merged.get("default_fallbacks") or []
    if not isinstance(defaults, list) or not all(isinstance(n, str) for n in defaults):
        raise ConfigError("default_fallbacks must be a list of model names")
    timeout = merged.get("timeout", merged.get("request_timeout"))
    return RouterSettings(
        routing_strategy=strategy,
        num_retries=_count(merged.get("num_retries", 2), "num_retries"),
        retry_policy={k: _count(v, f"retry_policy.{k}") for k, v in policy.items()},
        allowed_fails=_count(merged.get("allowed_fails", 3), "allowed_fails", 1000),
        cooldown_time=_seconds(merged.get("cooldown_time", 5), "cooldown_time"),
        timeout=_seconds(timeout, "timeout") if timeout is not None else None,
        fallbacks=fallback_map(merged.get("fallbacks"), "fallbacks"),
        context_window_fallbacks=fallback_map(
            merged.get("context_window_fallbacks"), "context_window_fallbacks"
        ),
        content_policy_fallbacks=fallback_map(
            merged.get("content_policy_fallbacks"), "content_policy_fallbacks"
        ),
        default_fallbacks=tuple(defaults),
    )

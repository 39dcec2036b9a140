"""Response-cache settings: LiteLLM's `litellm_settings.cache` and `cache_params`.

litellm_settings:
  cache: true
  cache_params:
    type: s3                      # the only backend (the stack's own bucket)
    ttl: 3600                     # default seconds an entry lives (at most 30 days)
    supported_call_types: [acompletion, completion]
    namespace_by: team            # team (default) | key: the tenant boundary
    namespace: prod               # LiteLLM's key prefix, mixed into every namespace
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.config import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

MAX_TTL_S = 30 * 86_400  # the bucket's lifecycle rule removes older objects
CHAT_CALL_TYPES = frozenset({"completion", "acompletion"})


@dataclass(frozen=True, slots=True)
class CacheSettings:
    enabled: bool = False
    ttl_s: float = 3600.0
    namespace_by: str = "team"
    prefix: str = ""


def parse_cache_settings(raw: Mapping[str, Any]) -> CacheSettings:
    litellm = raw.get("litellm_settings") or {}
    if not litellm.get("cache"):
        return CacheSettings()
    params = litellm.get("cache_params") or {}
    if not isinstance(params, dict):
        raise ConfigError("litellm_settings.cache_params must be a mapping")
    kind = params.get("type", "s3")
    if kind != "s3":
        raise ConfigError(f"cache_params.type '{kind}' is not available: the cache is S3")
    ttl = params.get("ttl", 3600)
    if isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl <= MAX_TTL_S:
        raise ConfigError(f"cache_params.ttl must be 1 to {MAX_TTL_S} seconds")
    types = params.get("supported_call_types")
    chat = types is None or bool(CHAT_CALL_TYPES.intersection(types))
    namespace_by = params.get("namespace_by", "team")
    if namespace_by not in ("team", "key"):
        raise ConfigError("cache_params.namespace_by must be 'team' or 'key'")
    return CacheSettings(
        enabled=chat,
        ttl_s=float(ttl),
        namespace_by=str(namespace_by),
        prefix=str(params.get("namespace") or ""),
    )

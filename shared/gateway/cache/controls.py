"""What a request may say about the cache, as LiteLLM takes it: a `cache` object in the
body, or request headers.

    {"cache": {"no-cache": true}}     read nothing (still store the answer)
    {"cache": {"no-store": true}}     store nothing
    {"cache": {"ttl": 600}}           store for this long (seconds)
    {"cache": {"s-maxage": 60}}       accept only entries at most this old
    {"cache": {"namespace": "eval"}}  a sub-namespace, inside the caller's own

Headers: `Cache-Control: no-cache | no-store | s-maxage=N | max-age=N` and
`x-gateway-cache-ttl`, `x-gateway-cache-namespace`. A key may be limited to some of
these controls (`allowed_cache_controls`, as in LiteLLM); using another is a 403.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway import numerals
from gateway.cache.settings import MAX_TTL_S
from gateway.errors import InvalidRequestError, PermissionDeniedError

if TYPE_CHECKING:
    from collections.abc import Mapping

TTL_HEADER = "x-gateway-cache-ttl"
NAMES = ("no-cache", "no-store", "ttl", "s-maxage", "namespace")
_NAMESPACE = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True, slots=True)
class CacheControls:
    no_cache: bool = False
    no_store: bool = False
    ttl_s: float | None = None
    s_maxage_s: float | None = None
    namespace: str | None = None

    @property
    def used(self) -> set[str]:
        values = (self.no_cache, self.no_store, self.ttl_s, self.s_maxage_s, self.namespace)
        return {name for name, value in zip(NAMES, values, strict=True) if value}


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise InvalidRequestError(f"'cache.{name}' must be a number of seconds.", param="cache")
    if value > MAX_TTL_S:
        raise InvalidRequestError(
            f"'cache.{name}' may be at most {MAX_TTL_S} seconds.", param="cache"
        )
    return float(value)


def _header_seconds(value: str, header: str, what: str) -> int:
    """A caller's header number: ASCII digits only (numerals.py), else a 400."""
    seconds = numerals.whole(value)
    if seconds is None:
        raise InvalidRequestError(f"'{what}' must be a whole number of seconds.", param=header)
    return seconds


def _from_headers(headers: Mapping[str, str]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for directive in headers.get("cache-control", "").lower().split(","):
        name, _, value = directive.strip().partition("=")
        if name in ("no-cache", "no-store"):
            found[name] = True
        elif name in ("s-maxage", "max-age"):
            found["s-maxage"] = _header_seconds(value, "cache-control", f"Cache-Control: {name}")
    ttl = headers.get(TTL_HEADER)
    if ttl is not None:
        found["ttl"] = _header_seconds(ttl, TTL_HEADER, TTL_HEADER)
    if "x-gateway-cache-namespace" in headers:
        found["namespace"] = headers["x-gateway-cache-namespace"]
    return found


def parse_controls(data: dict[str, Any], headers: Mapping[str, str]) -> CacheControls:
    """Pop the body's `cache` object and merge the headers (the body wins)."""
    raw = data.pop("cache", None)
    if raw is not None and not isinstance(raw, dict):
        raise InvalidRequestError("'cache' must be an object.", param="cache")
    merged = {**_from_headers(headers), **(raw or {})}
    unknown = set(merged) - set(NAMES)
    if unknown:
        raise InvalidRequestError(f"Unknown cache control '{sorted(unknown)[0]}'.", param="cache")
    namespace = merged.get("namespace")
    if namespace is not None and not (
        isinstance(namespace, str) and _NAMESPACE.fullmatch(namespace)
    ):
        raise InvalidRequestError(
            "'cache.namespace' must be 1-64 letters, digits, '.', '_' or '-'.", param="cache"
        )
    for flag in ("no-cache", "no-store"):
        if flag in merged and not isinstance(merged[flag], bool):
            raise InvalidRequestError(f"'cache.{flag}' must be true or false.", param="cache")
    return CacheControls(
        no_cache=bool(merged.get("no-cache")),
        no_store=bool(merged.get("no-store")),
        ttl_s=_seconds(merged["ttl"], "ttl") if "ttl" in merged else None,
        s_maxage_s=_seconds(merged["s-maxage"], "s-maxage") if "s-maxage" in merged else None,
        namespace=namespace,
    )


def check_allowed(controls: CacheControls, allowed: tuple[str, ...] | None) -> None:
    """A key limited to some controls may not use the others (None: every control)."""
    if allowed is None:
        return
    refused = sorted(controls.used - set(allowed))
    if refused:
        raise PermissionDeniedError(
            f"This key may not set the cache control '{refused[0]}'.", param="cache"
        )

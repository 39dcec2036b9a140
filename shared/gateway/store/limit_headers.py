"""What a client is told about rate limits: x-ratelimit-* headers, and the 429 itself."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.errors import RateLimitError
from gateway.store.limit_updates import WINDOW_S

if TYPE_CHECKING:
    from gateway.store.dynamo import Item
    from gateway.store.limits import Level


@dataclass(frozen=True, slots=True)
class Refusal:
    level: Level
    reason: str  # "requests", "tokens" or "parallel"
    item: Item


def refuse_zero_limits(level: Level, now: float) -> None:
    limits = level.limits
    for reason, value in (
        ("requests", limits.rpm_limit),
        ("tokens", limits.tpm_limit),
        ("parallel", limits.max_parallel_requests),
    ):
        if value is not None and value <= 0:
            raise refusal_error([Refusal(level, reason, {})], now)


def retry_after(now: float) -> int:
    return max(1, math.ceil(WINDOW_S - (now % WINDOW_S)))


def limit_headers(
    levels: tuple[Level, ...], items: list[Item | None], now: float
) -> dict[str, str]:
    """x-ratelimit-*: the tightest limit of the levels, and what remains of it when the
    counts are known (DynamoDB returns them for a single-item write and for a refused
    one, not for a transaction that passed)."""
    headers: dict[str, str] = {}
    for attribute, noun in (("rpm_limit", "requests"), ("tpm_limit", "tokens")):
        limited = [
            (getattr(level.limits, attribute), item)
            for level, item in zip(levels, items, strict=True)
            if getattr(level.limits, attribute) is not None
        ]
        if not limited:
            continue
        headers[f"x-ratelimit-limit-{noun}"] = str(min(limit for limit, _ in limited))
        if all(item is not None for _, item in limited):
            left = min(limit - int(item.get(noun, 0)) for limit, item in limited if item)
            headers[f"x-ratelimit-remaining-{noun}"] = str(max(0, left))
        headers[f"x-ratelimit-reset-{noun}"] = f"{retry_after(now)}s"
    return headers


def refusal_error(refusals: list[Refusal], now: float) -> RateLimitError:
    first = refusals[0]
    levels = tuple(r.level for r in refusals)
    retry = 1 if first.reason == "parallel" else retry_after(now)
    window = int(now // WINDOW_S)
    counts = [r.item if r.item.get("window") == window else None for r in refusals]
    headers = {"retry-after": str(retry), **limit_headers(levels, counts, now)}
    if first.reason == "requests":
        headers["x-ratelimit-remaining-requests"] = "0"
    if first.reason == "tokens":
        headers["x-ratelimit-remaining-tokens"] = "0"
    what = {
        "requests": "requests per minute",
        "tokens": "tokens per minute",
        "parallel": "parallel requests",
    }[first.reason]
    return RateLimitError(
        f"Rate limit reached for {first.level.scope}: {what}. Retry after {retry} s.",
        headers=headers,
    )

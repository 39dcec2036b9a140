"""How a model group's healthy deployments are ordered for one request.

Deployments are tried tier by tier (`order`: 1 before 2; none given is last), and
within a tier in the strategy's order. What each strategy reads, and how stale:

- simple-shuffle: weighted random (`weight`, else `rpm`, else `tpm`, else equal).
  Reads nothing.
- least-busy: fewest requests in flight across every instance (leases in DynamoDB,
  read through a cache of at most 1 s).
- latency-based-routing: lowest recent latency (time to first byte for streams),
  an average this instance keeps of its own calls; one it has not measured yet
  goes first, so each instance learns every deployment.
- usage-based-routing: most rpm/tpm headroom in the current minute, counted across
  every instance (DynamoDB, cache of at most 1 s); a deployment at its `rpm` or
  `tpm` is skipped while another has room.
- cost-based-routing: cheapest price for 1,000 input and 1,000 output tokens
  (model_info prices, else genai-prices); a deployment without a price goes last.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from gateway.config import Deployment

USAGE_STRATEGIES = frozenset({"least-busy", "usage-based-routing", "usage-based-routing-v2"})


class UsageView(Protocol):
    @property
    def requests(self) -> int: ...
    @property
    def tokens(self) -> int: ...
    @property
    def in_flight(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Signals:
    usage: Mapping[str, UsageView] = field(default_factory=dict)
    latency_s: Mapping[str, float] = field(default_factory=dict)


def order(strategy: str, deployments: Sequence[Deployment], signals: Signals) -> list[Deployment]:
    tiers: dict[float, list[Deployment]] = {}
    for deployment in deployments:
        tier = float(deployment.order) if deployment.order is not None else float("inf")
        tiers.setdefault(tier, []).append(deployment)
    out: list[Deployment] = []
    for tier in sorted(tiers):
        out.extend(_within(strategy, tiers[tier], signals))
    return out


def _within(strategy: str, tier: list[Deployment], signals: Signals) -> list[Deployment]:
    if len(tier) == 1:
        return tier
    if strategy == "least-busy":
        return _by(tier, lambda d: float(getattr(_usage(signals, d), "in_flight", 0)))
    if strategy == "latency-based-routing":
        return _by(tier, lambda d: signals.latency_s.get(d.model_id, 0.0))
    if strategy in ("usage-based-routing", "usage-based-routing-v2"):
        return _by(tier, lambda d: -_headroom(d, _usage(signals, d)))
    if strategy == "cost-based-routing":
        return _by(tier, _price_key)
    return _weighted_shuffle(tier)


def _usage(signals: Signals, deployment: Deployment) -> UsageView | None:
    return signals.usage.get(deployment.model_id)


def _by(tier: list[Deployment], key: Callable[[Deployment], float]) -> list[Deployment]:
    """Sorted by `key`, ties in random order (so equal deployments share the load)."""
    shuffled = random.sample(tier, len(tier))
    return sorted(shuffled, key=key)


def _weight(deployment: Deployment) -> float:
    for value in (deployment.weight, deployment.rpm, deployment.tpm):
        if value is not None:
            return float(value)
    return 1.0


def _weighted_shuffle(tier: list[Deployment]) -> list[Deployment]:
    """Weighted sampling without replacement (Efraimidis-Spirakis keys)."""
    keyed = []
    for deployment in tier:
        weight = _weight(deployment)
        key = random.random() ** (1.0 / weight) if weight > 0 else -1.0  # noqa: S311
        keyed.append((key, deployment))
    keyed.sort(key=lambda pair: pair[0], reverse=True)
    return [deployment for _, deployment in keyed]


def _headroom(deployment: Deployment, usage: UsageView | None) -> float:
    """The smaller of the rpm and tpm fractions left this minute (1.0 with no limits;
    below zero when over a limit, so such a deployment sorts last)."""
    requests = usage.requests if usage else 0
    tokens = usage.tokens if usage else 0
    fractions = [1.0]
    if deployment.rpm:
        fractions.append((deployment.rpm - requests) / deployment.rpm)
    if deployment.tpm:
        fractions.append((deployment.tpm - tokens) / deployment.tpm)
    return min(fractions)


_prices: dict[str, float] = {}


def _price_key(deployment: Deployment) -> float:
    """Micro-dollars for 1,000 input and 1,000 output tokens; no price sorts last."""
    price = _prices.get(deployment.model_id)
    if price is None:
        from gateway.providers.spec import TokenUsage
        from gateway.spend.cost import cost_micros

        micros = cost_micros(TokenUsage(input_tokens=1000, output_tokens=1000), deployment)
        price = _prices[deployment.model_id] = float("inf") if micros is None else float(micros)
    return price


def needs_usage(strategy: str) -> bool:
    return strategy in USAGE_STRATEGIES

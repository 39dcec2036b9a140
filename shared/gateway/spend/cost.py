"""Cost of a response from its usage, in integer micro-dollars.

Prices come from genai-prices (maintained price data), unless the deployment's
model_info sets per-token prices, which then win. genai-prices is imported on
first use (it costs ~0.25 s), never at app import; the app warms it at startup.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.config import Deployment
    from gateway.providers.spec import TokenUsage

logger = logging.getLogger(__name__)

MICROS = Decimal(1_000_000)


def _override(usage: TokenUsage, deployment: Deployment) -> Decimal | None:
    info = deployment.info
    if info.input_cost_per_token is None and info.output_cost_per_token is None:
        return None
    input_price = Decimal(str(info.input_cost_per_token or 0))
    read_price = (
        Decimal(str(info.cache_read_input_token_cost))
        if info.cache_read_input_token_cost is not None
        else input_price
    )
    write_price = (
        Decimal(str(info.cache_creation_input_token_cost))
        if info.cache_creation_input_token_cost is not None
        else input_price
    )
    uncached = max(0, usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens)
    return (
        uncached * input_price
        + usage.cache_read_tokens * read_price
        + usage.cache_write_tokens * write_price
        + usage.output_tokens * Decimal(str(info.output_cost_per_token or 0))
    )


@functools.lru_cache(maxsize=512)
def priced_model(model_ref: str, provider_id: str | None) -> tuple[Any, Any] | None:
    """genai-prices' model lookup (the slow part, ~1 ms), once per deployment."""
    from genai_prices import data_snapshot

    try:
        found: tuple[Any, Any] = data_snapshot.get_snapshot().find_provider_model(
            model_ref, None, provider_id, None
        )
    except LookupError:
        logger.warning("no price for %s/%s", provider_id, model_ref)
        return None
    return found


class _NeedsFullCalculation(Exception):
    """A price shape the fast path does not cover (a tier crossed, a missing cache price)."""


def _per_mtok(price: Any, input_tokens: int, tokens: int) -> Decimal:
    """A flat price, or a tiered one whose first tier the request does not reach."""
    if tokens == 0:
        return Decimal(0)
    if isinstance(price, Decimal):
        return price
    tiers = getattr(price, "tiers", None)
    if tiers and input_tokens < min(tier.start for tier in tiers):
        return Decimal(price.base)
    raise _NeedsFullCalculation


def _fast_price(usage: TokenUsage, prices: Any) -> Decimal:
    """genai-prices' arithmetic for the common case, without its per-call overhead (~0.4 ms)."""
    total_in = usage.input_tokens
    uncached = max(0, total_in - usage.cache_read_tokens - usage.cache_write_tokens)
    parts = (
        (prices.input_mtok, uncached),
        (prices.cache_read_mtok, usage.cache_read_tokens),
        (prices.cache_write_mtok, usage.cache_write_tokens),
        (prices.output_mtok, usage.output_tokens),
    )
    total = Decimal(0)
    for price, tokens in parts:
        if price is None and tokens:
            raise _NeedsFullCalculation
        total += _per_mtok(price, total_in, tokens) * tokens
    fee = getattr(prices, "requests_kcount", None)  # a price per thousand requests
    return total / MICROS + (Decimal(fee) / 1000 if fee else Decimal(0))


def _catalog_price(usage: TokenUsage, deployment: Deployment) -> Decimal | None:
    from genai_prices import Usage

    found = priced_model(deployment.price_model, deployment.prices_provider)
    if found is None:
        return None
    provider, model = found
    now = datetime.now(tz=UTC)
    try:
        return _fast_price(usage, model.get_prices(now))
    except _NeedsFullCalculation:
        pass
    price = model.calc_price(
        Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        provider,
        genai_request_timestamp=now,
        auto_update_timestamp=None,
    )
    return Decimal(price.total_price)


def cost_micros(usage: TokenUsage, deployment: Deployment) -> int | None:
    """The response's cost in micro-dollars, rounded half up; None when no price is known."""
    total = _override(usage, deployment)
    if total is None:
        total = _catalog_price(usage, deployment)
    if total is None:
        return None
    return int((total * MICROS).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def query_micros(units: int, deployment: Deployment) -> int | None:
    """Rerank's per-query price (model_info input_cost_per_query, LiteLLM's key) times
    the search units billed; None when the deployment sets no such price."""
    price = deployment.info.input_cost_per_query
    if price is None:
        return None
    total = Decimal(str(price)) * units * MICROS
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Pricing:
    """What a deployment costs per token (per query for rerank), in USD, and where that
    comes from: its model_info (which wins), genai-prices (with the provider id the
    model was found under), or nowhere (`source` None: the deployment is unpriced)."""

    source: str | None = None
    provider: str | None = None
    input_cost_per_token: float | None = None
    output_cost_per_token: float | None = None
    cache_read_input_token_cost: float | None = None
    cache_creation_input_token_cost: float | None = None
    input_cost_per_query: float | None = None


def pricing(deployment: Deployment) -> Pricing:
    """The deployment's prices as cost_micros applies them (a tiered genai-prices price
    is shown at its base tier)."""
    info = deployment.info
    if info.input_cost_per_token is not None or info.output_cost_per_token is not None:
        return Pricing(
            "model_info",
            None,
            info.input_cost_per_token,
            info.output_cost_per_token,
            info.cache_read_input_token_cost,
            info.cache_creation_input_token_cost,
            info.input_cost_per_query,
        )
    if info.input_cost_per_query is not None:
        return Pricing("model_info", input_cost_per_query=info.input_cost_per_query)
    found = priced_model(deployment.price_model, deployment.prices_provider)
    if found is None:
        return Pricing()
    provider, model = found
    prices = model.get_prices(datetime.now(tz=UTC))
    return Pricing(
        "genai-prices",
        provider.id,
        _usd_per_token(prices.input_mtok),
        _usd_per_token(prices.output_mtok),
        _usd_per_token(prices.cache_read_mtok),
        _usd_per_token(prices.cache_write_mtok),
    )


def _usd_per_token(price: Any) -> float | None:
    """genai-prices' $ per million tokens (flat, or tiered: its base) as $ per token."""
    if price is None:
        return None
    base = price if isinstance(price, Decimal) else getattr(price, "base", None)
    return None if base is None else float(Decimal(base) / MICROS)


def format_usd(micros: int) -> str:
    return f"{Decimal(micros) / MICROS:.6f}"


def warm() -> None:
    """Load the price data now (at startup) rather than on the first request."""
    import genai_prices  # noqa: F401

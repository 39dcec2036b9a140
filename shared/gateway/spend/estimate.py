"""The worst-case cost of a chat request, in integer micro-dollars: what a budget reserves
before the provider is called.

The charge is `cost.cost_micros` of the final attempt's usage, and that attempt may be on
any deployment of the group or of a group its fallbacks reach (`reachable_deployments`),
so the reservation is the largest, over those deployments, of a bound on that charge.
Each rule keeps the bound true; within that, it is as tight as a few multiplications allow.

Input tokens
- Text: a byte-level BPE vocabulary (OpenAI's tiktoken, Anthropic's, Llama 3's, Mistral's
  Tekken) and SentencePiece with byte fallback emit at most one token per UTF-8 byte. The
  raw body holds every prompt string (messages, names, tool schemas, tool-call arguments),
  JSON-escaped, so at least its UTF-8 bytes: its length bounds the text tokens.
- Chat template: the few tokens a provider wraps each message in (OpenAI's cookbook counts 3
  or 4) are covered by the message's own JSON framing (`{"role":"user","content":""}` is 29
  bytes); REQUEST_TOKENS covers the per-request priming and hidden system lines.
- Tools: Anthropic adds a tool-use system prompt of 159 to 530 tokens by model and
  tool_choice (docs.anthropic.com/en/docs/tool-use-pricing-and-tokens, "Tool use system
  prompt token count"). TOOLS_TOKENS is about twice the largest; legacy `functions` and a
  json_schema response_format get it too, as a precaution (schemas become instructions).
- Images cost by pixels, not bytes (a tiny PNG can be large; a URL has no bytes here), so
  each image part adds IMAGE_TOKENS. OpenAI (platform.openai.com/docs/guides/images-vision,
  "Calculating costs"): high detail fits 2048 px, then the short side to 768 px, 512-px
  tiles: at most 8; gpt-4o bills 85 + 170 a tile (<= 1,445), gpt-4o-mini 2,833 + 5,667 a
  tile (<= 48,169); patch models cap at 1,536 32-px patches times at most 2.46 (<= 3,779).
  Anthropic (docs.anthropic.com/en/docs/vision, "Evaluate image size"): about
  width x height / 750, scaled down past a 1,568-px edge or ~1,600 tokens.
- Files, audio and any other part type: a PDF's pages become images and its compressed text
  expands; audio is billed by duration. Nothing in the request bounds them: the input bound
  is then the context window.
- Cap: the provider rejects a prompt longer than its window, so the bound is at most the
  window: the larger of model_info max_input_tokens and genai-prices' context_window (the
  larger, since the gateway does not enforce a smaller declared limit: the router skips
  only deployments a prompt provably exceeds).

Output tokens
- The request's max_completion_tokens or max_tokens, the larger when both are sent (an
  OpenAI-compatible upstream may honor either). Reasoning tokens are billed as output and
  counted within it (OpenAI's max_completion_tokens; Anthropic's budget < max_tokens).
- Else model_info max_output_tokens, else its max_tokens, else the window (a generated token
  occupies the context too).
- `prediction` (OpenAI Predicted Outputs, passed through): rejected prediction tokens are
  billed as completion tokens; they come from the prediction, which is in the body, so the
  body's length is added.
- Times n: each choice's tokens are billed (the prompt once).

Price, per deployment, as cost_micros prices it
- model_info prices win over genai-prices; an unpriced deployment is free (cost_micros
  returns None, nothing is charged).
- Every input token at the largest of the input, cache-read and cache-write prices: usage
  may put any share of the prompt in any of them, and cache writes cost more (1.25x at
  Anthropic).
- Tiered prices (genai-prices' cliff tiers, keyed on the prompt's tokens, for input and
  output alike): the highest price of any tier the input bound reaches, rising or not.
- Conditional prices: every price that can be in force from now on (a time-of-day price
  such as DeepSeek's off-peak discount can change during the request; a start-dated one can
  begin), less those superseded by a start date already passed.
- Per-request prices (requests_kcount) are added. The sum is exact, rounded up, plus 1.

A priced deployment with no output bound (no max_tokens, no model_info limit, no known
window), or with file or audio parts and no known window, is UnboundedCostError.

An unpriced deployment would let a budgeted caller spend unchecked, so a request that
reserves a budget and may reach one is UnpricedModelError (`require_priced`), unless
the operator allows it (general_settings.allow_unpriced_models_with_budgets): it then
runs free. Prices of 0 set in model_info are a price (LiteLLM's free models).
"""

from __future__ import annotations

import functools
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_CEILING, Decimal
from typing import TYPE_CHECKING, Any

from gateway.errors import InvalidRequestError, PermissionDeniedError
from gateway.spend.cost import MICROS, priced_model

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.config import Deployment, GatewayConfig, ModelInfo
    from gateway.router.settings import RouterSettings
    from gateway.schemas.openai import ChatCompletionRequest

REQUEST_TOKENS = 512
TOOLS_TOKENS = 1_024
IMAGE_TOKENS = 50_000
_TEXT_PARTS = frozenset({"text", "refusal"})
_INPUT_PRICES = ("input_mtok", "cache_read_mtok", "cache_write_mtok")
_ZERO = Decimal(0)


class UnboundedCostError(InvalidRequestError):
    """A budgeted request whose cost has no bound: the client must set max_tokens."""

    def __init__(
        self,
        message: str = (
            "This model's output has no known limit: set max_tokens (or max_completion_tokens) "
            "so the request's cost can be checked against the budget."
        ),
        *,
        param: str | None = "max_tokens",
    ) -> None:
        super().__init__(message, param=param)


class UnpricedModelError(PermissionDeniedError):
    """A budgeted request that may be served by a deployment with no known price."""

    code = "unpriced_model"


def require_priced(deployments: Sequence[Deployment]) -> None:
    """Refuse (403) when any of `deployments` has no price: neither model_info prices
    (per token or, for rerank, per query) nor a genai-prices entry."""
    for deployment in deployments:
        info = deployment.info
        if info.input_cost_per_query is not None:
            continue
        if not _profile(deployment.price_model, deployment.prices_provider, info).priced:
            target = deployment.target
            raise UnpricedModelError(
                f"The model '{target.model_name}' ({target.provider}/{target.model}) has no "
                "known price, so its cost cannot be checked against your budget. The operator "
                "can price it (model_info input_cost_per_token and output_cost_per_token) or "
                "set general_settings.allow_unpriced_models_with_budgets.",
                param="model",
            )


def reachable_deployments(
    group: str,
    config: GatewayConfig,
    settings: RouterSettings,
    request_fallbacks: tuple[str, ...],
) -> list[Deployment]:
    """Every deployment of `group` and of the groups its fallbacks reach, transitively."""
    groups = config.groups
    order = [group]
    seen = {group}
    for current in order:  # grows while iterated: breadth-first
        generic = request_fallbacks or settings.fallbacks.get(current) or settings.default_fallbacks
        for name in (
            *generic,
            *settings.context_window_fallbacks.get(current, ()),
            *settings.content_policy_fallbacks.get(current, ()),
        ):
            if name not in seen and name in groups:
                seen.add(name)
                order.append(name)
    return [deployment for name in order for deployment in groups.get(name, ())]


def worst_case_micros(
    body_bytes: int, request: ChatCompletionRequest, deployments: Sequence[Deployment]
) -> int:
    """The most any of `deployments` can charge for `request`, in micro-dollars."""
    images, media = _media(request)
    prompt = body_bytes + REQUEST_TOKENS + images * IMAGE_TOKENS
    extra = request.model_extra or {}
    if request.tools or "functions" in extra or _has_schema(request):
        prompt += TOOLS_TOKENS
    limits = [v for v in (request.max_tokens, request.max_completion_tokens) if v is not None]
    limit = max(limits) if limits else None
    predicted = body_bytes if "prediction" in extra else 0
    choices = request.n or 1
    worst = 0
    for deployment in deployments:
        profile = _profile(deployment.price_model, deployment.prices_provider, deployment.info)
        if profile.priced:
            tokens_in = profile.window if media else _capped(prompt, profile.window)
            out = limit if limit is not None else profile.output_default
            out = (out + predicted) * choices if out is not None else None
            worst = max(worst, profile.bound(tokens_in, out))
    return worst


def input_bound_micros(tokens_in: int, deployments: Sequence[Deployment]) -> int:
    """The most any of `deployments` charges for `tokens_in` input tokens and no output
    (embeddings, rerank). Not capped by the context window: each input has its own."""
    worst = 0
    for deployment in deployments:
        profile = _profile(deployment.price_model, deployment.prices_provider, deployment.info)
        if profile.priced:
            worst = max(worst, profile.bound(tokens_in, 0))
    return worst


def _media(request: ChatCompletionRequest) -> tuple[int, bool]:
    """(image parts, whether any part is neither text nor image)."""
    images = 0
    for message in request.messages:
        content = message.content
        if isinstance(content, list):
            for part in content:
                if part.type == "image_url":
                    images += 1
                elif part.type not in _TEXT_PARTS:
                    return images, True
    return images, False


def _has_schema(request: ChatCompletionRequest) -> bool:
    return request.response_format is not None and request.response_format.type == "json_schema"


def _capped(tokens: int, window: int | None) -> int:
    return tokens if window is None else min(tokens, window)


@dataclass(frozen=True, slots=True)
class _Profile:
    """One deployment's limits and prices, in micro-dollars per token."""

    priced: bool
    window: int | None
    output_default: int | None
    starts: tuple[int, ...] = ()  # tier thresholds: rates[i] holds while input > starts[i-1]
    input_rates: tuple[Decimal, ...] = (_ZERO,)  # the most for any input up to that tier
    output_rates: tuple[Decimal, ...] = (_ZERO,)
    per_request: Decimal = _ZERO

    def bound(self, tokens_in: int | None, tokens_out: int | None) -> int:
        tier = len(self.starts) if tokens_in is None else bisect_left(self.starts, tokens_in)
        input_rate, output_rate = self.input_rates[tier], self.output_rates[tier]
        if tokens_in is None and input_rate:
            raise UnboundedCostError(
                "This request's file or audio parts have no token bound for a model whose "
                "context window is unknown, so its cost cannot be checked against the budget.",
                param="messages",
            )
        if tokens_out is None and output_rate:
            raise UnboundedCostError
        total = (tokens_in or 0) * input_rate + (tokens_out or 0) * output_rate
        return int((total + self.per_request).to_integral_value(rounding=ROUND_CEILING)) + 1


@functools.lru_cache(maxsize=512)
def _profile(model_ref: str, provider_id: str | None, info: ModelInfo) -> _Profile:
    overridden = info.input_cost_per_token is not None or info.output_cost_per_token is not None
    found = (
        _quiet_lookup(model_ref, provider_id)
        if overridden
        else priced_model(model_ref, provider_id)
    )
    model = found[1] if found is not None else None
    windows = [w for w in (info.max_input_tokens, getattr(model, "context_window", None)) if w]
    window = max(windows) if windows else None
    output_default = info.max_output_tokens or info.max_tokens or window
    if overridden:
        return _override_profile(info, window, output_default)
    if model is None:
        return _Profile(priced=False, window=window, output_default=output_default)
    return _catalog_profile(model, window, output_default)


def _quiet_lookup(model_ref: str, provider_id: str | None) -> tuple[Any, Any] | None:
    """The catalog entry, for its window only (model_info sets the prices): no warning."""
    from genai_prices import data_snapshot

    try:
        found: tuple[Any, Any] = data_snapshot.get_snapshot().find_provider_model(
            model_ref, None, provider_id, None
        )
    except LookupError:
        return None
    return found


def _per_token(usd: float | None) -> Decimal:
    return Decimal(str(usd or 0)) * MICROS


def _override_profile(info: ModelInfo, window: int | None, output_default: int | None) -> _Profile:
    """cost_micros' model_info pricing: cache prices default to the input price."""
    base = _per_token(info.input_cost_per_token)
    read, write = info.cache_read_input_token_cost, info.cache_creation_input_token_cost
    input_rate = max(
        base,
        _per_token(read) if read is not None else base,
        _per_token(write) if write is not None else base,
    )
    return _Profile(
        priced=True,
        window=window,
        output_default=output_default,
        input_rates=(input_rate,),
        output_rates=(_per_token(info.output_cost_per_token),),
    )


def _catalog_profile(model: Any, window: int | None, output_default: int | None) -> _Profile:
    """genai-prices' prices ($ per million tokens = micro-dollars per token)."""
    from genai_prices.types import TieredPrices

    prices = _prices_from_now(model)
    keys = (*_INPUT_PRICES, "output_mtok")
    starts = sorted(
        {
            tier.start
            for price in prices
            for key in keys
            if isinstance(value := getattr(price, key), TieredPrices)
            for tier in value.tiers
        }
    )
    input_rates: list[Decimal] = []
    output_rates: list[Decimal] = []
    most_in = most_out = _ZERO
    for tokens in (0, *(start + 1 for start in starts)):  # one prompt size within each tier
        for price in prices:
            most_in = max(most_in, *(_at(getattr(price, key), tokens) for key in _INPUT_PRICES))
            most_out = max(most_out, _at(price.output_mtok, tokens))
        input_rates.append(most_in)
        output_rates.append(most_out)
    # requests_kcount is $ per thousand requests: x 1e6 / 1e3 micro-dollars per request.
    per_request = max(_at(price.requests_kcount, 0) for price in prices) * 1000
    return _Profile(
        priced=True,
        window=window,
        output_default=output_default,
        starts=tuple(starts),
        input_rates=tuple(input_rates),
        output_rates=tuple(output_rates),
        per_request=per_request,
    )


def _prices_from_now(model: Any) -> list[Any]:
    """Every ModelPrice that genai-prices can pick from now on (see ModelInfo.get_prices)."""
    from genai_prices.types import StartDateConstraint

    conditional = model.prices
    if not isinstance(conditional, list):
        return [conditional]
    now = datetime.now(tz=UTC)
    floor = 0  # the last price in force for good: the ones before it can no longer win
    for index, entry in enumerate(conditional):
        constraint = entry.constraint
        if index and (
            constraint is None
            or (isinstance(constraint, StartDateConstraint) and constraint.active(now))
        ):
            floor = index
    return [entry.prices for entry in conditional[floor:]]


def _at(price: Any, prompt_tokens: int) -> Decimal:
    """A price in force for a prompt of `prompt_tokens` (genai-prices' calc_unit_price)."""
    if price is None:
        return _ZERO
    tiers = getattr(price, "tiers", None)
    if tiers is None:
        return Decimal(price)
    for tier in reversed(tiers):
        if prompt_tokens > tier.start:
            return Decimal(tier.price)
    return Decimal(price.base)

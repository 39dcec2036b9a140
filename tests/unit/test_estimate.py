"""The worst-case cost a budget reserves: never below what cost_micros can charge, and tight."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import ModelInfo, parse_config
from gateway.http.body import parse_json, validate_chat
from gateway.providers.spec import TokenUsage
from gateway.router.settings import parse_router_settings
from gateway.spend import cost, estimate
from gateway.spend.cost import cost_micros
from gateway.spend.estimate import (
    IMAGE_TOKENS,
    REQUEST_TOKENS,
    TOOLS_TOKENS,
    UnboundedCostError,
    reachable_deployments,
    worst_case_micros,
)

if TYPE_CHECKING:
    from gateway.config import Deployment, GatewayConfig
    from gateway.router.settings import RouterSettings
    from gateway.schemas.openai import ChatCompletionRequest

# ---- building deployments and requests as the gateway does ---------------------------------


def entry(name: str, model: str, **info: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"model": model, "api_key": "k"}
    if model.startswith("hosted_vllm/"):
        params["api_base"] = "http://127.0.0.1:8000/v1"
    return {"model_name": name, "litellm_params": params, "model_info": info}


def configured(*entries: dict[str, Any], **router: Any) -> tuple[GatewayConfig, RouterSettings]:
    raw = {"model_list": list(entries), "router_settings": router}
    return parse_config(raw, lambda _name: None), parse_router_settings(raw)


def one(model: str, **info: Any) -> Deployment:
    config, _ = configured(entry("m", model, **info))
    [deployment] = config.deployments
    return deployment


def chat(
    text: str | list[dict[str, Any]] = "hello", **fields: Any
) -> tuple[int, ChatCompletionRequest]:
    """(body length, request) through the gateway's own bytes-to-request path."""
    body = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": text}], **fields})
    return len(body), validate_chat(parse_json(body))


def expected(input_tokens: int, input_rate: str, output_tokens: int, output_rate: str) -> int:
    """Micro-dollars at per-token rates in micro-dollars, rounded up, plus 1."""
    total = input_tokens * Decimal(input_rate) + output_tokens * Decimal(output_rate)
    return math.ceil(total) + 1


GPT_4O_MINI = "openai/gpt-4o-mini"  # $0.15 in, $0.075 cache read, $0.60 out; 128k window
HAIKU = "anthropic/claude-3-5-haiku-20241022"  # $0.80 in, $1.00 cache write, $4 out; 200k
BEDROCK_HAIKU = "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0"
PRIVATE = "hosted_vllm/private-model"  # in no catalog
OVERRIDE = {
    "input_cost_per_token": 1e-06,
    "output_cost_per_token": 2e-06,
    "cache_read_input_token_cost": 1e-07,
    "cache_creation_input_token_cost": 1.25e-06,
    "max_input_tokens": 32_000,
    "max_output_tokens": 4_096,
}

# Priced deployments the properties range over: catalog prices flat and tiered (Sonnet 4.5
# with its 1M window declared, so the 200k tier is reachable; Gemini 2.5 Pro, no window),
# time-of-day prices (DeepSeek), model_info prices with and without cache prices.
PRICED = [
    one(GPT_4O_MINI),
    one(HAIKU),
    one(BEDROCK_HAIKU),
    one("anthropic/claude-sonnet-4-5", max_input_tokens=1_000_000),
    one("gemini/gemini-2.5-pro"),
    one("deepseek/deepseek-chat"),
    one(PRIVATE, **OVERRIDE),
    one(PRIVATE, output_cost_per_token=3e-06, max_tokens=8_192),
]


def window(deployment: Deployment) -> int | None:
    return estimate._profile(
        deployment.target.model, deployment.prices_provider, deployment.info
    ).window


# ---- the bound holds ----------------------------------------------------------------------

texts = st.text(max_size=300)  # any unicode: up to 4 UTF-8 bytes a character


def up_to(limit: int) -> st.SearchStrategy[int]:
    """0..limit, with both ends drawn often: worst cases sit at the edges."""
    return st.sampled_from([0, limit]) | st.integers(0, limit)


@st.composite
def usage_within(draw: st.DrawFn, input_max: int, output_max: int) -> TokenUsage:
    """Any usage a provider can report within these bounds, cached in any share."""
    input_tokens = draw(up_to(input_max))
    read = draw(up_to(input_tokens))
    write = draw(up_to(input_tokens - read))
    return TokenUsage(
        input_tokens=input_tokens,
        output_tokens=draw(up_to(output_max)),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


@settings(max_examples=300, deadline=None)
@given(
    contents=st.lists(texts, min_size=1, max_size=4),
    max_tokens=st.integers(1, 50_000),
    n=st.integers(1, 3),
    deployment=st.sampled_from(PRICED),
    data=st.data(),
)
def test_text_prompts_never_cost_more_than_reserved(
    contents: list[str], max_tokens: int, n: int, deployment: Deployment, data: st.DataObject
) -> None:
    messages = [{"role": "user", "content": text} for text in contents]
    body = orjson.dumps({"model": "m", "messages": messages, "max_tokens": max_tokens, "n": n})
    request = validate_chat(parse_json(body))
    # Tokens are at most the text's UTF-8 bytes, plus OpenAI's 3 a message and 3 priming.
    prompt = sum(len(text.encode()) for text in contents) + 3 * len(contents) + 3
    actual = data.draw(usage_within(prompt, max_tokens * n))
    reserved = worst_case_micros(len(body), request, [deployment])
    assert (cost_micros(actual, deployment) or 0) <= reserved
    assert reserved <= worst_case_micros(len(body), request, PRICED)


@settings(max_examples=300, deadline=None)
@given(
    body_bytes=st.integers(30, 2_000_000),
    max_tokens=st.one_of(st.none(), st.integers(1, 200_000)),
    deployment=st.sampled_from([d for d in PRICED if window(d) is not None]),
    data=st.data(),
)
def test_large_prompts_across_tiers_and_windows(
    body_bytes: int, max_tokens: int | None, deployment: Deployment, data: st.DataObject
) -> None:
    """Any body size (the bound trusts body_bytes): prompts up to the window, past tiers."""
    fields: dict[str, Any] = {} if max_tokens is None else {"max_tokens": max_tokens}
    _, request = chat(**fields)
    limit = window(deployment)
    assert limit is not None
    info = deployment.info
    output_max = max_tokens or info.max_output_tokens or info.max_tokens or limit
    actual = data.draw(usage_within(min(body_bytes, limit), output_max))
    assert (cost_micros(actual, deployment) or 0) <= worst_case_micros(
        body_bytes, request, [deployment]
    )


def test_a_tier_past_200k_is_reserved_when_the_window_allows_it() -> None:
    sonnet = one("anthropic/claude-sonnet-4-5", max_input_tokens=1_000_000)
    _, request = chat(max_tokens=1_000)
    usage = TokenUsage(input_tokens=300_000, output_tokens=1_000, cache_write_tokens=300_000)
    reserved = worst_case_micros(300_000, request, [sonnet])
    assert (cost_micros(usage, sonnet) or 0) <= reserved
    # Above 200k prompt tokens: $7.50 cache write and $22.50 output per MTok.
    assert reserved == expected(300_000 + REQUEST_TOKENS, "7.5", 1_000, "22.5")


@pytest.mark.parametrize("hour", [3, 12, 20])
def test_time_of_day_prices_reserve_the_dearest(hour: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """DeepSeek's off-peak discount can end while the request runs: reserve the peak price."""
    deepseek = one("deepseek/deepseek-chat")
    body_bytes, request = chat(max_tokens=1_000)
    usage = TokenUsage(input_tokens=body_bytes, output_tokens=1_000)

    class Frozen(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> Frozen:
            return cls(2026, 12, 1, hour, tzinfo=UTC)

    monkeypatch.setattr(cost, "datetime", Frozen)
    reserved = worst_case_micros(body_bytes, request, [deepseek])
    assert (cost_micros(usage, deepseek) or 0) <= reserved
    assert reserved == expected(body_bytes + REQUEST_TOKENS, "0.27", 1_000, "1.1")


def test_a_price_superseded_by_a_passed_start_date_is_not_reserved() -> None:
    """o3 cost $10/$40 before its June 2025 price cut; only $2/$8 can be charged now."""
    body_bytes, request = chat(max_tokens=500)
    reserved = worst_case_micros(body_bytes, request, [one("openai/o3")])
    assert reserved == expected(body_bytes + REQUEST_TOKENS, "2", 500, "8")


def test_per_request_prices_are_reserved() -> None:
    """Perplexity's Sonar bills $12 per thousand requests, which cost_micros can charge."""
    sonar = one("perplexity/sonar")
    body_bytes, request = chat(max_tokens=10)
    usage = TokenUsage(input_tokens=100, output_tokens=10, cache_read_tokens=50)
    reserved = worst_case_micros(body_bytes, request, [sonar])
    assert (cost_micros(usage, sonar) or 0) <= reserved
    assert reserved == expected(body_bytes + REQUEST_TOKENS, "1", 10, "1") + 12_000


def test_a_tier_cheaper_than_the_base_does_not_lower_the_bound() -> None:
    """Tiers are not assumed to rise: a prompt under the bound may pay the dearer base."""
    from genai_prices.types import ModelPrice, Tier, TieredPrices

    prices = ModelPrice(
        input_mtok=TieredPrices(base=Decimal(2), tiers=[Tier(start=100, price=Decimal(1))]),
        output_mtok=Decimal(5),
    )
    profile = estimate._catalog_profile(SimpleNamespace(prices=prices), None, None)
    assert profile.bound(1_000, 10) == 1_000 * 2 + 10 * 5 + 1


# ---- what is reserved, exactly ------------------------------------------------------------


def test_catalog_prices_price_the_prompt_at_its_dearest() -> None:
    body_bytes, request = chat(max_tokens=100)
    # gpt-4o-mini: input $0.15 (cache reads are cheaper); Haiku: cache writes at $1.00.
    assert worst_case_micros(body_bytes, request, [one(GPT_4O_MINI)]) == expected(
        body_bytes + REQUEST_TOKENS, "0.15", 100, "0.6"
    )
    assert worst_case_micros(body_bytes, request, [one(HAIKU)]) == expected(
        body_bytes + REQUEST_TOKENS, "1", 100, "4"
    )


def test_model_info_prices_win_and_cache_writes_count() -> None:
    body_bytes, request = chat(max_tokens=100)
    deployment = one(GPT_4O_MINI, **OVERRIDE)
    assert worst_case_micros(body_bytes, request, [deployment]) == expected(
        body_bytes + REQUEST_TOKENS, "1.25", 100, "2"
    )


def test_the_worst_deployment_sets_the_reservation() -> None:
    body_bytes, request = chat(max_tokens=100)
    each = [worst_case_micros(body_bytes, request, [d]) for d in PRICED]
    assert worst_case_micros(body_bytes, request, PRICED) == max(each)


@pytest.mark.parametrize(
    ("fields", "output"),
    [
        ({"max_tokens": 300}, 300),
        ({"max_completion_tokens": 300}, 300),
        ({"max_tokens": 300, "max_completion_tokens": 200}, 300),  # either may be honored
        ({"max_tokens": 100, "max_completion_tokens": 200}, 200),
        ({"max_tokens": 300, "n": 3}, 900),
        ({}, 128_000),  # gpt-4o-mini's window
    ],
)
def test_output_bound(fields: dict[str, Any], output: int) -> None:
    body_bytes, request = chat(**fields)
    assert worst_case_micros(body_bytes, request, [one(GPT_4O_MINI)]) == expected(
        body_bytes + REQUEST_TOKENS, "0.15", output, "0.6"
    )


@pytest.mark.parametrize(
    ("info", "output"),
    [
        ({"max_output_tokens": 2_000, "max_tokens": 3_000}, 2_000),
        ({"max_tokens": 3_000}, 3_000),
        ({"max_input_tokens": 50_000}, 128_000),  # the larger of the two windows
        ({"max_input_tokens": 500_000}, 500_000),
    ],
)
def test_without_max_tokens_model_info_limits_then_the_window(
    info: dict[str, Any], output: int
) -> None:
    body_bytes, request = chat()
    assert worst_case_micros(body_bytes, request, [one(GPT_4O_MINI, **info)]) == expected(
        body_bytes + REQUEST_TOKENS, "0.15", output, "0.6"
    )


def test_tools_and_schemas_add_the_tool_prompt_allowance() -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    schema = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
    functions = [tool["function"]]  # the legacy spelling, passed through to OpenAI
    for fields in ({"tools": [tool]}, {"response_format": schema}, {"functions": functions}):
        body_bytes, request = chat(max_tokens=10, **fields)
        assert worst_case_micros(body_bytes, request, [one(HAIKU)]) == expected(
            body_bytes + REQUEST_TOKENS + TOOLS_TOKENS, "1", 10, "4"
        )


def image(url: str = "https://example.com/cat.png") -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


def test_images_add_an_allowance_each_capped_by_the_window() -> None:
    one_image = [{"type": "text", "text": "what is this"}, image()]
    body_bytes, request = chat(one_image, max_tokens=10)
    assert worst_case_micros(body_bytes, request, [one(HAIKU)]) == expected(
        body_bytes + REQUEST_TOKENS + IMAGE_TOKENS, "1", 10, "4"
    )
    # Three images on gpt-4o-mini pass its 128k window: the window is the bound.
    body_bytes, request = chat([image(), image(), image()], max_tokens=10)
    assert worst_case_micros(body_bytes, request, [one(GPT_4O_MINI)]) == expected(
        128_000, "0.15", 10, "0.6"
    )


def test_gpt_4o_mini_s_largest_image_fits_the_allowance() -> None:
    # High detail: 2048 x 768 after scaling is 4 x 2 tiles of 512 px, each 5,667 tokens + 2,833.
    assert IMAGE_TOKENS >= 2_833 + 8 * 5_667


def test_file_and_audio_parts_reserve_the_whole_window() -> None:
    file_part = [{"type": "file", "file": {"file_id": "file-abc"}}]
    body_bytes, request = chat(file_part, max_tokens=10)
    assert worst_case_micros(body_bytes, request, [one(GPT_4O_MINI)]) == expected(
        128_000, "0.15", 10, "0.6"
    )
    with pytest.raises(UnboundedCostError) as raised:
        worst_case_micros(body_bytes, request, [one(PRIVATE, input_cost_per_token=1e-06)])
    assert raised.value.param == "messages"


def test_prediction_tokens_are_reserved_as_output() -> None:
    body_bytes, request = chat(max_tokens=10, prediction={"type": "content", "content": "x" * 99})
    assert worst_case_micros(body_bytes, request, [one(GPT_4O_MINI)]) == expected(
        body_bytes + REQUEST_TOKENS, "0.15", 10 + body_bytes, "0.6"
    )


# ---- unbounded and free -------------------------------------------------------------------


def test_a_priced_model_without_any_output_limit_needs_max_tokens() -> None:
    deployment = one(PRIVATE, input_cost_per_token=1e-06, output_cost_per_token=2e-06)
    body_bytes, request = chat()
    with pytest.raises(UnboundedCostError) as raised:
        worst_case_micros(body_bytes, request, [deployment])
    error = raised.value
    assert (error.status, error.param, error.type) == (400, "max_tokens", "invalid_request_error")
    body_bytes, request = chat(max_tokens=50)
    assert worst_case_micros(body_bytes, request, [deployment]) == expected(
        body_bytes + REQUEST_TOKENS, "1", 50, "2"
    )


def test_gemini_without_a_catalog_window_needs_max_tokens() -> None:
    body_bytes, request = chat()
    with pytest.raises(UnboundedCostError):
        worst_case_micros(body_bytes, request, [one(GPT_4O_MINI), one("gemini/gemini-2.5-pro")])


def test_unpriced_and_free_deployments_reserve_nothing() -> None:
    body_bytes, request = chat()  # no max_tokens and no limits: no matter, nothing is charged
    assert worst_case_micros(body_bytes, request, [one(PRIVATE)]) == 0
    free = one(PRIVATE, input_cost_per_token=0.0, output_cost_per_token=0.0)
    assert worst_case_micros(body_bytes, request, [free]) == 1  # the rounding micro


# ---- fallbacks ----------------------------------------------------------------------------

GROUPS = ("a", "b", "c", "d", "e")


def groups(**router: Any) -> tuple[GatewayConfig, RouterSettings]:
    return configured(*(entry(g, GPT_4O_MINI) for g in GROUPS), **router)


def reached(request_fallbacks: tuple[str, ...] = (), start: str = "a", **router: Any) -> set[str]:
    config, router_settings = groups(**router)
    found = reachable_deployments(start, config, router_settings, request_fallbacks)
    assert len(found) == len({id(d) for d in found})
    return {d.target.model_name for d in found}


@pytest.mark.parametrize(
    ("request_fallbacks", "router", "names"),
    [
        ((), {}, {"a"}),
        ((), {"fallbacks": [{"a": ["b"]}, {"b": ["c"]}]}, {"a", "b", "c"}),  # transitively
        ((), {"fallbacks": [{"a": ["b"]}, {"b": ["a"]}]}, {"a", "b"}),  # a cycle ends
        ((), {"fallbacks": [{"a": ["nope", "b"]}]}, {"a", "b"}),  # unknown groups skipped
        ((), {"default_fallbacks": ["d"]}, {"a", "d"}),
        # a group's own chain replaces the default; b has none, so b's is the default
        ((), {"fallbacks": [{"a": ["b"]}], "default_fallbacks": ["d"]}, {"a", "b", "d"}),
        # the request's chain replaces the configured one, for every group on the way
        (("c",), {"fallbacks": [{"a": ["b"]}], "default_fallbacks": ["d"]}, {"a", "c"}),
        ((), {"context_window_fallbacks": [{"a": ["e"]}]}, {"a", "e"}),
        (("b",), {"content_policy_fallbacks": [{"b": ["c"]}]}, {"a", "b", "c"}),
    ],
)
def test_reachable_groups(
    request_fallbacks: tuple[str, ...], router: dict[str, Any], names: set[str]
) -> None:
    assert reached(request_fallbacks, **router) == names


def test_an_unknown_group_has_no_deployments_but_its_fallbacks_count() -> None:
    assert reached(start="nope") == set()
    assert reached(start="nope", default_fallbacks=["a"]) == {"a"}  # a superset is safe


def test_every_deployment_of_a_group_is_reached() -> None:
    config, router_settings = configured(
        entry("a", GPT_4O_MINI),
        entry("a", HAIKU),
        entry("b", BEDROCK_HAIKU),
        fallbacks=[{"a": ["b"]}],
    )
    found = reachable_deployments("a", config, router_settings, ())
    assert [d.target.model for d in found] == [
        "gpt-4o-mini",
        "claude-3-5-haiku-20241022",
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
    ]


def test_model_info_is_hashable_for_the_profile_cache() -> None:
    assert hash(ModelInfo(max_tokens=1)) == hash(ModelInfo(max_tokens=1))

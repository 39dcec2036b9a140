"""Routing strategies, settings, failure classes and backoff: pure functions, no I/O."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest

from gateway import errors
from gateway.config import ConfigError, parse_deployment
from gateway.router import retries, strategies
from gateway.router.prompt import MAX_TOKEN_BYTES, prompt_tokens_at_least
from gateway.router.settings import parse_router_settings
from gateway.schemas.openai import ChatCompletionRequest


def deployment(name: str, index: int = 0, **params: Any) -> Any:
    info = params.pop("model_info", {})
    entry = {
        "model_name": "group",
        "litellm_params": {"model": f"openai/{name}", "api_base": "http://x/v1", **params},
        "model_info": {"id": name, **info},
    }
    return parse_deployment(entry, lambda _: None, index)


@dataclass(frozen=True)
class Use:
    requests: int = 0
    tokens: int = 0
    in_flight: int = 0


def first_picks(strategy: str, group: list[Any], n: int = 6000, **signals: Any) -> Counter[str]:
    seen: Counter[str] = Counter()
    for _ in range(n):
        seen[strategies.order(strategy, group, strategies.Signals(**signals))[0].model_id] += 1
    return seen


def test_simple_shuffle_follows_weights() -> None:
    group = [deployment("a", weight=1), deployment("b", weight=2), deployment("c", weight=7)]
    seen = first_picks("simple-shuffle", group)
    assert abs(seen["a"] / 6000 - 0.1) < 0.03
    assert abs(seen["b"] / 6000 - 0.2) < 0.03
    assert abs(seen["c"] / 6000 - 0.7) < 0.03


def test_simple_shuffle_weighs_by_rpm_without_weights_and_evenly_without_either() -> None:
    seen = first_picks("simple-shuffle", [deployment("a", rpm=100), deployment("b", rpm=300)])
    assert abs(seen["b"] / 6000 - 0.75) < 0.03
    seen = first_picks("simple-shuffle", [deployment("a"), deployment("b"), deployment("c")])
    assert all(abs(count / 6000 - 1 / 3) < 0.03 for count in seen.values())


def test_every_strategy_returns_each_deployment_once_tier_by_tier() -> None:
    group = [
        deployment("late"),
        deployment("first", order=1),
        deployment("second", order=2),
        deployment("also-first", order=1),
    ]
    for strategy in (
        "simple-shuffle",
        "least-busy",
        "latency-based-routing",
        "usage-based-routing",
        "cost-based-routing",
    ):
        ranked = [d.model_id for d in strategies.order(strategy, group, strategies.Signals())]
        assert sorted(ranked[:2]) == ["also-first", "first"]
        assert ranked[2:] == ["second", "late"]


def test_least_busy_prefers_fewest_in_flight() -> None:
    group = [deployment("a"), deployment("b"), deployment("c")]
    usage = {"a": Use(in_flight=3), "b": Use(in_flight=1), "c": Use(in_flight=2)}
    assert first_picks("least-busy", group, 200, usage=usage) == Counter({"b": 200})


def test_latency_based_prefers_the_fastest_and_explores_the_unmeasured() -> None:
    group = [deployment("slow"), deployment("fast")]
    assert first_picks(
        "latency-based-routing", group, 200, latency_s={"slow": 2.0, "fast": 0.1}
    ) == Counter({"fast": 200})
    seen = first_picks(
        "latency-based-routing",
        [*group, deployment("new")],
        200,
        latency_s={"slow": 2.0, "fast": 0.1},
    )
    assert seen == Counter({"new": 200})


def test_usage_based_prefers_headroom_and_puts_full_deployments_last() -> None:
    group = [deployment("a", rpm=100), deployment("b", rpm=100, tpm=1000), deployment("c", rpm=10)]
    usage = {"a": Use(requests=90), "b": Use(requests=10, tokens=200), "c": Use(requests=10)}
    ranked = strategies.order("usage-based-routing", group, strategies.Signals(usage=usage))
    assert [d.model_id for d in ranked] == ["b", "a", "c"]


def test_cost_based_prefers_the_cheapest_price() -> None:
    cheap = {"input_cost_per_token": 1e-7, "output_cost_per_token": 2e-7}
    dear = {"input_cost_per_token": 1e-5, "output_cost_per_token": 2e-5}
    group = [deployment("dear", model_info=dear), deployment("cheap", model_info=cheap)]
    assert first_picks("cost-based-routing", group, 100) == Counter({"cheap": 100})


def test_deployment_ids_are_stable_and_never_hold_credentials() -> None:
    entry = {
        "model_name": "m",
        "litellm_params": {
            "model": "openai/x",
            "api_base": "http://h/v1",
            "api_key": "sk-secret-value",
        },
    }
    first = parse_deployment(entry, lambda _: None, 3)
    again = parse_deployment(entry, lambda _: None, 3)
    assert first.model_id == again.model_id
    assert "secret" not in first.model_id
    assert len(first.model_id) == 16


def test_router_settings_parse_litellm_shapes() -> None:
    parsed = parse_router_settings(
        {
            "litellm_settings": {"num_retries": 1, "allowed_fails": 2},
            "router_settings": {
                "routing_strategy": "least-busy",
                "num_retries": 3,
                "retry_policy": {"RateLimitErrorRetries": 5},
                "cooldown_time": 30,
                "fallbacks": [{"a": ["b", "c"]}],
                "context_window_fallbacks": [{"a": "big"}],
                "default_fallbacks": ["d"],
            },
        }
    )
    assert parsed.routing_strategy == "least-busy"
    assert parsed.num_retries == 3
    assert parsed.allowed_fails == 2
    assert parsed.retries_for("RateLimitErrorRetries", None) == 5
    assert parsed.retries_for("TimeoutErrorRetries", None) == 3
    assert parsed.retries_for("TimeoutErrorRetries", 0) == 0
    assert parsed.fallbacks == {"a": ("b", "c")}
    assert parsed.context_window_fallbacks == {"a": ("big",)}
    assert parsed.default_fallbacks == ("d",)


@pytest.mark.parametrize(
    "bad",
    [
        {"routing_strategy": "random"},
        {"num_retries": -1},
        {"num_retries": True},
        {"retry_policy": {"Whatever": 1}},
        {"cooldown_time": 0},
        {"fallbacks": {"a": [1]}},
        {"fallbacks": "a"},
    ],
)
def test_bad_router_settings_are_config_errors(bad: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        parse_router_settings({"router_settings": bad})


@pytest.mark.parametrize(
    ("error", "kind", "retryable", "cools", "fallback"),
    [
        (
            errors.RateLimitError("x", headers={"retry-after": "3"}),
            "RateLimitErrorRetries",
            True,
            True,
            "generic",
        ),
        (errors.UpstreamTimeoutError("x"), "TimeoutErrorRetries", True, True, "generic"),
        (errors.UpstreamError("x"), "InternalServerErrorRetries", True, True, "generic"),
        (errors.ServiceUnavailableError("x"), "InternalServerErrorRetries", True, True, "generic"),
        (errors.UpstreamAuthError("x"), "AuthenticationErrorRetries", True, True, "generic"),
        (errors.InvalidRequestError("x"), "BadRequestErrorRetries", False, False, "none"),
        (errors.UnsupportedParameterError("x"), "BadRequestErrorRetries", False, False, "none"),
        (errors.ContextLengthError("x"), "BadRequestErrorRetries", False, False, "context_window"),
        (
            errors.ContentPolicyError("x"),
            "ContentPolicyViolationErrorRetries",
            False,
            False,
            "content_policy",
        ),
    ],
)
def test_failures_are_classified_by_type(
    error: errors.GatewayError, kind: str, retryable: bool, cools: bool, fallback: str
) -> None:
    failure = retries.classify(error)
    assert (failure.kind, failure.retryable, failure.cools, failure.fallback) == (
        kind,
        retryable,
        cools,
        fallback,
    )


def test_backoff_honours_retry_after_and_is_jittered_and_capped() -> None:
    assert retries.backoff_s(1, 3.0) == 3.0
    first = [retries.backoff_s(1, None) for _ in range(200)]
    assert all(0.25 <= w <= 0.5 for w in first)
    assert len(set(first)) > 100
    assert all(4.0 <= retries.backoff_s(9, None) <= 8.0 for _ in range(50))


def test_prompt_lower_bound_never_overestimates() -> None:
    text = "x" * (MAX_TOKEN_BYTES * 10)
    request = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "user", "content": text}]}
    )
    assert prompt_tokens_at_least(request) == 10
    assert (
        prompt_tokens_at_least(
            ChatCompletionRequest.model_validate(
                {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
            )
        )
        == 1
    )

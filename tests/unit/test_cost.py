"""Cost in integer micro-dollars: genai-prices by default, model_info prices when set."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import Deployment, ModelInfo
from gateway.providers.spec import Target, TokenUsage
from gateway.spend.cost import cost_micros, format_usd


def deployment(
    model: str = "gpt-4o-mini", prices: str | None = "openai", **info: Any
) -> Deployment:
    target = Target(
        model_name="m", provider="openai", dialect="openai", model=model, api_base="https://x/v1"
    )
    return Deployment(target=target, info=ModelInfo(**info), prices_provider=prices)


# gpt-4o-mini, published per million tokens: $0.15 input, $0.075 cached input, $0.60 output.
# One micro-dollar per million tokens is $1/MTok, so N tokens at $P/MTok cost N * P micros.
@pytest.mark.parametrize(
    ("usage", "micros"),
    [
        # 1M in + 1M out: 150_000 + 600_000
        (TokenUsage(input_tokens=1_000_000, output_tokens=1_000_000), 750_000),
        # 800 uncached * 0.15 + 200 cached * 0.075 + 500 out * 0.60 = 120 + 15 + 300
        (TokenUsage(input_tokens=1000, output_tokens=500, cache_read_tokens=200), 435),
        # all 2048 prompt tokens cached: 2048 * 0.075 = 153.6 -> 154; 100 out * 0.6 = 60
        (TokenUsage(input_tokens=2048, output_tokens=100, cache_read_tokens=2048), 214),
        # 10 in * 0.15 = 1.5 and 1 out * 0.6 = 0.6: 2.1 -> 2
        (TokenUsage(input_tokens=10, output_tokens=1), 2),
        (TokenUsage(), 0),
    ],
)
@pytest.mark.parametrize("model", ["gpt-4o-mini", "gpt-4o-mini-2024-07-18"])
def test_genai_prices_for_gpt_4o_mini(model: str, usage: TokenUsage, micros: int) -> None:
    assert cost_micros(usage, deployment(model)) == micros


@pytest.mark.parametrize(
    ("info", "usage", "micros"),
    [
        # input price for every prompt token when no cache prices are set: 1000 * 1 + 500 * 2
        (
            {"input_cost_per_token": 1e-06, "output_cost_per_token": 2e-06},
            TokenUsage(input_tokens=1000, output_tokens=500, cache_read_tokens=200),
            2000,
        ),
        # 800 * 1 + 200 * 0.1 + 500 * 2
        (
            {
                "input_cost_per_token": 1e-06,
                "output_cost_per_token": 2e-06,
                "cache_read_input_token_cost": 1e-07,
            },
            TokenUsage(input_tokens=1000, output_tokens=500, cache_read_tokens=200),
            1820,
        ),
        # 700 * 1 + 200 * 0.1 + 100 * 1.25 + 500 * 2
        (
            {
                "input_cost_per_token": 1e-06,
                "output_cost_per_token": 2e-06,
                "cache_read_input_token_cost": 1e-07,
                "cache_creation_input_token_cost": 1.25e-06,
            },
            TokenUsage(
                input_tokens=1000, output_tokens=500, cache_read_tokens=200, cache_write_tokens=100
            ),
            1845,
        ),
        # only an output price: input is free
        ({"output_cost_per_token": 3e-06}, TokenUsage(input_tokens=999, output_tokens=10), 30),
        # a zero price is a price (free), not "unset"
        (
            {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0},
            TokenUsage(input_tokens=1000, output_tokens=1000),
            0,
        ),
        # more cached than prompt tokens (a vendor's miscount): the uncached part is not negative
        (
            {"input_cost_per_token": 1e-06, "cache_read_input_token_cost": 5e-07},
            TokenUsage(input_tokens=10, cache_read_tokens=20),
            10,
        ),
    ],
)
def test_model_info_prices_win(info: dict[str, float], usage: TokenUsage, micros: int) -> None:
    assert cost_micros(usage, deployment("gpt-4o-mini", **info)) == micros


@pytest.mark.parametrize(
    ("price", "tokens", "micros"),
    [
        (2.5e-06, 1, 3),  # 2.5 -> 3 (half up, not half to even)
        (5e-07, 1, 1),  # 0.5 -> 1
        (1.5e-06, 1, 2),  # 1.5 -> 2
        (4.9e-07, 1, 0),  # 0.49 -> 0
        (1e-07, 5, 1),  # 0.5 exactly; binary floats would give 0.49999999999999994
        (1.5e-07, 1000, 150),
        (3e-07, 3, 1),  # 0.9 -> 1
    ],
)
def test_rounding_half_up(price: float, tokens: int, micros: int) -> None:
    usage = TokenUsage(input_tokens=tokens)
    assert cost_micros(usage, deployment("custom", input_cost_per_token=price)) == micros


@pytest.mark.parametrize(
    ("model", "prices"),
    [("my-private-model", "openai"), ("no-such-model-anywhere-xyz", None)],
)
def test_unknown_model_has_no_price(model: str, prices: str | None) -> None:
    usage = TokenUsage(input_tokens=100, output_tokens=100)
    assert cost_micros(usage, deployment(model, prices)) is None


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (0, "0.000000"),
        (1, "0.000001"),
        (435, "0.000435"),
        (1_000_000, "1.000000"),
        (1_234_567, "1.234567"),
        (12_345_678_901, "12345.678901"),
    ],
)
def test_format_usd(micros: int, text: str) -> None:
    assert format_usd(micros) == text

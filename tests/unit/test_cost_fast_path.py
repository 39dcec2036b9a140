"""The cost fast path must agree with genai-prices' own calculation to the last digit."""

from __future__ import annotations

import random
from decimal import Decimal

import pytest
from genai_prices import Usage, calc_price

from gateway.config import Deployment, ModelInfo
from gateway.providers.spec import Target, TokenUsage
from gateway.spend import cost

MODELS = [
    ("gpt-4o-mini", "openai"),  # flat prices with a cache-read price
    ("claude-sonnet-4-5", "anthropic"),  # tiered at 200k input tokens, cache read and write
    ("claude-3-5-haiku-latest", "anthropic"),
    ("us.anthropic.claude-3-5-haiku-20241022-v1:0", "aws"),
    ("amazon.nova-lite-v1:0", "aws"),
    ("gemini-2.5-pro", "google"),  # tiered
    ("sonar", "perplexity"),  # a price per request on top of the tokens
]
INPUTS = [0, 1, 10, 1000, 150_000, 199_999, 200_000, 200_001, 400_000]


@pytest.mark.parametrize(("model", "provider"), MODELS)
def test_fast_path_equals_genai_prices(model: str, provider: str) -> None:
    rng = random.Random(f"{model}/{provider}")
    deployment = Deployment(Target("m", provider, "openai", model, "x"), ModelInfo(), provider)
    for _ in range(200):
        total = rng.choice(INPUTS)
        read = rng.randint(0, total)
        write = rng.randint(0, total - read)
        output = rng.randint(0, 5000)
        expected = calc_price(
            Usage(
                input_tokens=total,
                output_tokens=output,
                cache_read_tokens=read,
                cache_write_tokens=write,
            ),
            model_ref=model,
            provider_id=provider,
        ).total_price
        got = cost._catalog_price(TokenUsage(total, output, read, write), deployment)
        assert got == Decimal(expected), (total, read, write, output)

"""GET /v1/models says how each model is priced: model_info prices (which win), the
genai-prices entry it resolves to (and under which provider), or that it is unpriced."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from conftest import MASTER_KEY, OPENAI_KEY, use_models
from keys import asgi_client, bearer

if TYPE_CHECKING:
    from pathlib import Path

    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

UNPRICED = {
    "source": None,
    "provider": None,
    "input_cost_per_token": None,
    "output_cost_per_token": None,
    "cache_read_input_token_cost": None,
    "cache_creation_input_token_cost": None,
    "input_cost_per_query": None,
}


def entry(name: str, model: str, sim_url: str, **info: Any) -> dict[str, Any]:
    params = {"model": model, "api_base": f"{sim_url}/v1", "api_key": OPENAI_KEY}
    return {"model_name": name, "litellm_params": params, "model_info": info}


@pytest.fixture
async def listed(
    gateway_env: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    from gateway.http.app import create_app

    url = gateway_env.state.url
    entries = [
        entry("kimi", "moonshot/kimi-k2-0711-preview", url),
        entry("local", "ollama/private-model-xyz", url),
        entry("free-local", "ollama/private-model-xyz", url, input_cost_per_token=0.0),
        entry("reranker", "hosted_vllm/bge-reranker-v2-m3", url, input_cost_per_query=0.002),
    ]
    use_models(tmp_path / "config.json", url, entries, monkeypatch)
    async with asgi_client(create_app()) as client:
        response = await client.get("/v1/models", headers=bearer(MASTER_KEY))
    assert response.status_code == 200, response.text
    return {model["id"]: model["pricing"] for model in response.json()["data"]}


async def test_model_info_prices_win(listed: dict[str, Any]) -> None:
    assert listed["priced"] == {
        **UNPRICED,
        "source": "model_info",
        "input_cost_per_token": 0.001,
        "output_cost_per_token": 0.002,
    }
    # A price of 0 is a price: the model is free, not unpriced.
    assert listed["free-local"]["source"] == "model_info"
    assert listed["free-local"]["input_cost_per_token"] == 0.0


async def test_genai_prices_say_which_provider_priced_the_model(listed: dict[str, Any]) -> None:
    mini = listed["gpt-4o-mini"]
    assert (mini["source"], mini["provider"]) == ("genai-prices", "openai")
    # gpt-4o-mini: $0.15 / MTok in, $0.60 out, $0.075 cached
    assert mini["input_cost_per_token"] == pytest.approx(0.15e-6)
    assert mini["output_cost_per_token"] == pytest.approx(0.60e-6)
    assert mini["cache_read_input_token_cost"] == pytest.approx(0.075e-6)
    kimi = listed["kimi"]  # priced under its catalog row's genai-prices provider
    assert (kimi["source"], kimi["provider"]) == ("genai-prices", "moonshotai")
    assert kimi["input_cost_per_token"] > 0
    assert kimi["output_cost_per_token"] > 0


async def test_an_unpriced_model_says_so(listed: dict[str, Any]) -> None:
    assert listed["local"] == UNPRICED


async def test_a_rerank_model_is_priced_per_query(listed: dict[str, Any]) -> None:
    assert listed["reranker"] == {
        **UNPRICED,
        "source": "model_info",
        "input_cost_per_query": 0.002,
    }

"""POST /v1/rerank (and /rerank, /v2/rerank) through the whole app, on each wire.

`rerank-cohere` (Cohere's own API, priced per search unit), `rerank-vllm` (an
OpenAI-compatible rerank server, priced per token) and `rerank-bedrock` (Bedrock's Cohere
rerank model), all served by the provider simulator, whose scores are a deterministic
word overlap (gateway/local/simulator/cohere_rerank.py `ranking`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from conftest import use_models
from keys import asgi_client, bearer, make_key
from spend_helpers import drain, ledger

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

MODELS = ("rerank-cohere", "rerank-vllm", "rerank-bedrock")
PER_QUERY = 0.002  # USD per search unit
PER_TOKEN = 1e-6
QUERY = "what is the capital of france"
DOCUMENTS = [
    "Berlin is the capital of Germany.",
    "Paris is the capital of France.",
    "The capital of France is Paris, a city on the Seine.",
    "Bananas are yellow.",
]


@pytest.fixture
def env(
    spend_env: GatewayTable,
    gateway_env: SimulatorApp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> GatewayTable:
    from conftest import OPENAI_KEY

    sim = gateway_env.state.url
    entries = [
        {
            "model_name": "rerank-cohere",
            "litellm_params": {
                "model": "cohere/rerank-v3.5",
                "api_base": sim,
                "api_key": OPENAI_KEY,
            },
            "model_info": {"input_cost_per_query": PER_QUERY},
        },
        {
            "model_name": "rerank-vllm",
            "litellm_params": {
                "model": "hosted_vllm/BAAI/bge-reranker-v2-m3",
                "api_base": f"{sim}/v1",
                "api_key": OPENAI_KEY,
            },
            "model_info": {"mode": "rerank", "input_cost_per_token": PER_TOKEN},
        },
        {
            "model_name": "rerank-bedrock",
            "litellm_params": {
                "model": "bedrock/cohere.rerank-v3-5:0",
                "api_base": sim,
                "aws_region_name": "us-east-1",
            },
            "model_info": {"input_cost_per_query": PER_QUERY},
        },
    ]
    use_models(tmp_path / "config.yaml", sim, entries, monkeypatch)
    return spend_env


async def post(key: str, body: dict[str, Any], path: str = "/v1/rerank") -> httpx.Response:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        return await client.post(path, json=body, headers=bearer(key))


def expected_order(documents: list[str]) -> list[int]:
    from gateway.local.simulator.cohere_rerank import ranking

    return [index for index, _ in ranking(QUERY, documents)]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank", "/v2/rerank"])
async def test_results_are_sorted_with_documents_and_top_n(
    env: GatewayTable, model: str, path: str
) -> None:
    key = make_key(env)
    response = await post(
        key, {"model": model, "query": QUERY, "documents": DOCUMENTS, "top_n": 3}, path
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == response.headers["x-request-id"]
    results = body["results"]
    scores = [r["relevance_score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert [r["index"] for r in results] == expected_order(DOCUMENTS)[:3]
    assert all(r["document"] == {"text": DOCUMENTS[r["index"]]} for r in results)
    assert await drain(env) == 1


async def test_object_documents_come_back_as_sent_and_can_be_left_out(env: GatewayTable) -> None:
    key = make_key(env)
    documents = [{"text": text} for text in DOCUMENTS]
    body = {"model": "rerank-vllm", "query": QUERY, "documents": documents}
    kept = (await post(key, body)).json()
    assert [r["document"] for r in kept["results"]] == [
        documents[i] for i in expected_order(DOCUMENTS)
    ]
    bare = (await post(key, {**body, "return_documents": False})).json()
    assert all("document" not in r for r in bare["results"])


@pytest.mark.parametrize("model", ["rerank-cohere", "rerank-bedrock"])
async def test_search_units_are_charged_at_the_query_price(env: GatewayTable, model: str) -> None:
    key = make_key(env)
    response = await post(key, {"model": model, "query": QUERY, "documents": DOCUMENTS})
    units = response.json()["meta"]["billed_units"]["search_units"]
    assert units == 1
    cost = round(units * PER_QUERY * 1e6)
    assert response.headers["x-gateway-cost-usd"] == f"{cost / 1e6:.6f}"
    assert await drain(env) == 1
    assert [item["spend_micros"] for item in ledger(env)] == [cost]


async def test_token_priced_reranker_is_charged_its_tokens(env: GatewayTable) -> None:
    key = make_key(env)
    response = await post(key, {"model": "rerank-vllm", "query": QUERY, "documents": DOCUMENTS})
    tokens = response.json()["meta"]["billed_units"]["input_tokens"]
    assert tokens > 0
    assert await drain(env) == 1
    assert [item["spend_micros"] for item in ledger(env)] == [tokens]
    assert [item["prompt_tokens"] for item in ledger(env)] == [tokens]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "rerank-cohere", "documents": ["a"]}, "query"),
        ({"model": "rerank-cohere", "query": "q", "documents": []}, "documents"),
        ({"model": "rerank-cohere", "query": "q", "documents": [3]}, "documents"),
        ({"model": "rerank-cohere", "query": "q", "documents": ["a"], "top_n": 0}, "top_n"),
        ({"model": "gpt-4o-mini", "query": "q", "documents": ["a"]}, "model"),
    ],
)
async def test_bad_input_is_a_400_that_changes_nothing(
    env: GatewayTable, gateway_env: SimulatorApp, body: dict[str, Any], param: str
) -> None:
    key = make_key(env)
    response = await post(key, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert gateway_env.requests == []
    assert await drain(env) == 0

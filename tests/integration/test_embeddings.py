"""POST /v1/embeddings through the whole app: the official openai SDK, every wire.

Deployments served by the provider simulator: `embed-openai` (OpenAI's API),
`embed-vllm` (an OpenAI-compatible vendor), Bedrock's `titan`, `cohere-embed` and
`nova-embed`, and `embed-broken` (always 503, for fallbacks), priced by model_info,
and a chat model for the unsupported pair. Answers are validated against OpenAI's published schema;
spend is read back from the ledger the spend consumer writes.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import pytest

from conftest import use_models
from keys import asgi_client, async_sdk, bearer, make_key
from openapi import validate
from spend_helpers import drain, ledger

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

OPENAI_MODELS = ("embed-openai", "embed-vllm")
PRICE_IN = 3  # micro-dollars per token
MODEL_INFO = {"input_cost_per_token": PRICE_IN / 1e6, "mode": "embedding"}
TEXTS = ["the quick brown fox", "jumps over the lazy dog"]
WINDOW = 10  # max_input_tokens of embed-windowed: at least 1,280 bytes provably exceed it


@pytest.fixture
def env(
    spend_env: GatewayTable,
    gateway_env: SimulatorApp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> GatewayTable:
    from conftest import OPENAI_KEY

    sim = gateway_env.state.url
    deployments = {
        "embed-openai": {
            "model": "openai/text-embedding-3-small",
            "api_base": f"{sim}/v1",
            "api_key": OPENAI_KEY,
        },
        "embed-vllm": {
            "model": "hosted_vllm/text-embedding-3-small",
            "api_base": f"{sim}/v1",
            "api_key": OPENAI_KEY,
        },
    }
    bedrock = {
        "titan": "amazon.titan-embed-text-v2:0",
        "cohere-embed": "cohere.embed-english-v3",
        "nova-embed": "amazon.nova-2-multimodal-embeddings-v1:0",
    }
    for name, model in bedrock.items():
        deployments[name] = {
            "model": f"bedrock/{model}",
            "api_base": sim,
            "aws_region_name": "us-east-1",
        }
    deployments["embed-broken"] = {
        "model": "openai/text-embedding-3-small",
        "api_base": f"{sim}/_fault/503/v1",
        "api_key": OPENAI_KEY,
    }
    entries = [
        {"model_name": name, "litellm_params": params, "model_info": MODEL_INFO}
        for name, params in deployments.items()
    ]
    windowed = {**deployments["embed-openai"]}
    window = {**MODEL_INFO, "max_input_tokens": WINDOW}
    entries.append(
        {"model_name": "embed-windowed", "litellm_params": windowed, "model_info": window}
    )
    use_models(tmp_path / "config.yaml", sim, entries, monkeypatch)
    return spend_env


async def post(key: str, body: dict[str, Any], path: str = "/v1/embeddings") -> httpx.Response:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        return await client.post(path, json=body, headers=bearer(key))


def expected(model: str, text: str, dims: int = 1536) -> list[float]:
    from gateway.local.simulator.openai_embeddings import vector_for

    return vector_for(model, text, dims)


@pytest.mark.parametrize("model", OPENAI_MODELS)
async def test_sdk_both_encodings_decode_to_the_same_floats(env: GatewayTable, model: str) -> None:
    key = make_key(env)
    client = async_sdk(key)
    as_floats = await client.embeddings.create(model=model, input=TEXTS, encoding_format="float")
    as_base64 = await client.embeddings.create(model=model, input=TEXTS)  # SDK default: base64
    assert as_floats.model == model
    for got in (as_floats, as_base64):
        assert [d.index for d in got.data] == [0, 1]
        for item, text in zip(got.data, TEXTS, strict=True):
            assert item.embedding == pytest.approx(expected("text-embedding-3-small", text))
    floats = [d.embedding for d in as_floats.data]
    assert [d.embedding for d in as_base64.data] == floats
    assert math.isclose(sum(v * v for v in floats[0]), 1.0, rel_tol=1e-5)
    assert as_floats.usage.prompt_tokens == as_floats.usage.total_tokens > 0
    assert await drain(env) == 2
    items = ledger(env)
    assert (
        sorted(i["spend_micros"] for i in items) == [as_floats.usage.prompt_tokens * PRICE_IN] * 2
    )


async def test_answers_follow_openai_schema_with_dimensions_and_tokens(env: GatewayTable) -> None:
    key = make_key(env)
    response = await post(
        key,
        {"model": "embed-openai", "input": [[1, 2, 3], [4, 5]], "dimensions": 8, "user": "u1"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    validate("CreateEmbeddingResponse", body)
    assert [len(d["embedding"]) for d in body["data"]] == [8, 8]
    assert body["usage"]["prompt_tokens"] == 5
    assert response.headers["x-gateway-cost-usd"] == f"{5 * PRICE_IN / 1e6:.6f}"


async def test_chat_model_on_embeddings_is_a_400_naming_both(env: GatewayTable) -> None:
    key = make_key(env)
    response = await post(key, {"model": "claude-3-5-haiku", "input": "hi"})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert "/v1/embeddings" in error["message"]
    assert "anthropic" in error["message"]
    assert error["param"] == "model"
    chat = await post(
        key,
        {"model": "embed-openai", "messages": [{"role": "user", "content": "hi"}]},
        "/v1/chat/completions",
    )
    assert chat.status_code == 400, chat.text
    assert "/v1/chat/completions" in chat.json()["error"]["message"]
    assert await drain(env) == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "embed-openai"}, "input"),
        ({"model": "embed-openai", "input": []}, "input"),
        ({"model": "embed-openai", "input": [""]}, "input"),
        ({"model": "embed-openai", "input": "x", "encoding_format": "int8"}, "encoding_format"),
        ({"model": "embed-openai", "input": "x", "dimensions": 0}, "dimensions"),
    ],
)
async def test_bad_input_is_a_400_that_changes_nothing(
    env: GatewayTable, gateway_env: SimulatorApp, body: dict[str, Any], param: str
) -> None:
    key = make_key(env)
    response = await post(key, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param
    assert response.headers["x-request-id"]
    assert await drain(env) == 0
    assert gateway_env.requests == []


async def test_models_list_each_model_with_its_mode_and_endpoints(env: GatewayTable) -> None:
    from gateway.http.app import create_app

    key = make_key(env)
    async with asgi_client(create_app()) as client:
        response = await client.get("/v1/models", headers=bearer(key))
    assert response.status_code == 200, response.text
    listed = {model["id"]: model for model in response.json()["data"]}
    assert listed["embed-openai"]["mode"] == "embedding"
    assert listed["embed-openai"]["supported_endpoints"] == ["/v1/embeddings"]
    chat = listed["gpt-4o-mini"]
    assert chat["mode"] == "chat"
    assert chat["supported_endpoints"] == [
        "/v1/chat/completions",
        "/v1/responses",
        "/v1/messages",
        "/v1/completions",
    ]
    page = await async_sdk(key).models.list()
    assert {model.id for model in page.data} == set(listed)


async def test_budget_hold_is_bounded_by_the_input_and_a_refusal_calls_nothing(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    from gateway.http.app import create_app
    from gateway.http.dependencies import _load_config
    from gateway.spend.estimate import input_bound_micros

    body = {"model": "embed-openai", "input": TEXTS}
    raw = json.dumps(body).encode()
    worst = input_bound_micros(len(raw), _load_config().groups["embed-openai"])
    assert 0 < worst < len(raw) * PRICE_IN + 10  # every byte a token, at the input price
    poor = make_key(env, max_budget_micros=worst - 1)
    enough = make_key(env, max_budget_micros=worst)
    async with asgi_client(create_app()) as client:
        headers = {"content-type": "application/json"}
        refused = await client.post(
            "/v1/embeddings", content=raw, headers={**headers, **bearer(poor)}
        )
        served = await client.post(
            "/v1/embeddings", content=raw, headers={**headers, **bearer(enough)}
        )
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"]["type"] == "budget_exceeded"
    assert served.status_code == 200, served.text
    assert len(gateway_env.requests) == 1


BEDROCK = {  # model name: (Bedrock model id, default dimensions, texts per call)
    "titan": ("amazon.titan-embed-text-v2:0", 1024, 1),
    "cohere-embed": ("cohere.embed-english-v3", 1024, 96),
    "nova-embed": ("amazon.nova-2-multimodal-embeddings-v1:0", 3072, 1),
}


@pytest.mark.parametrize("model", sorted(BEDROCK))
async def test_bedrock_models_batched_as_their_apis_require_in_order(
    env: GatewayTable, gateway_env: SimulatorApp, model: str
) -> None:
    model_id, dims, per_call = BEDROCK[model]
    texts = [f"text number {i}" for i in range(100)]
    key = make_key(env)
    client = async_sdk(key)
    as_floats = await client.embeddings.create(model=model, input=texts, encoding_format="float")
    as_base64 = await client.embeddings.create(model=model, input=texts)
    for got in (as_floats, as_base64):
        assert [d.index for d in got.data] == list(range(100))
        for item, text in zip(got.data, texts, strict=True):
            assert item.embedding == pytest.approx(expected(model_id, text, dims), abs=1e-6)
    assert [d.embedding for d in as_base64.data] == [d.embedding for d in as_floats.data]
    calls = [r for r in gateway_env.requests if r["path"].endswith("/invoke")]
    assert len(calls) == 2 * -(-100 // per_call)
    tokens = as_floats.usage.prompt_tokens
    assert tokens > 0
    assert await drain(env) == 2
    assert [i["spend_micros"] for i in ledger(env)] == [tokens * PRICE_IN] * 2


async def test_bedrock_refuses_token_arrays_before_any_call(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    key = make_key(env)
    response = await post(key, {"model": "titan", "input": [[1, 2, 3]]})
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "input"
    assert gateway_env.requests == []


async def test_a_failing_group_falls_back_to_another(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    key = make_key(env)
    response = await post(
        key, {"model": "embed-broken", "input": TEXTS, "fallbacks": ["embed-openai"]}
    )
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-fallback"] == "embed-openai"
    assert response.json()["model"] == "embed-openai"
    assert len(gateway_env.requests) == 2
    assert await drain(env) == 1
    (item,) = ledger(env)
    assert item["model_group"] == "embed-openai"
    assert item["spend_micros"] == response.json()["usage"]["prompt_tokens"] * PRICE_IN


async def test_tpm_counts_the_input_tokens(env: GatewayTable) -> None:
    key = make_key(env, tpm_limit=1)
    first = await post(key, {"model": "embed-openai", "input": TEXTS})
    second = await post(key, {"model": "embed-openai", "input": TEXTS})
    assert first.status_code == 200, first.text
    assert second.status_code == 429, second.text
    assert second.headers["x-ratelimit-remaining-tokens"] == "0"
    (window,) = [i for i in env.items() if i["pk"].startswith("LIMIT#key#")]
    assert window["tokens"] == first.json()["usage"]["prompt_tokens"]


async def test_a_field_bedrock_has_no_place_for_is_named_in_the_dropped_header(
    env: GatewayTable,
) -> None:
    key = make_key(env)
    response = await post(key, {"model": "titan", "input": "hello", "user": "u-1"})
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-dropped-params"] == "user"


async def test_the_context_window_bounds_each_input_not_the_batch(env: GatewayTable) -> None:
    key = make_key(env)
    batch = ["word " * 8] * 50  # 2,000 bytes in all, 40 an input
    fits = await post(key, {"model": "embed-windowed", "input": batch})
    assert fits.status_code == 200, fits.text
    too_long = await post(key, {"model": "embed-windowed", "input": ["word " * 400]})
    assert too_long.status_code == 400, too_long.text
    assert too_long.json()["error"]["code"] == "context_length_exceeded"

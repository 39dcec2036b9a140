"""POST /v1/completions through the whole app, with the official openai SDK.

`instruct` is a completion-mode deployment (its body passed through to the simulator's
/v1/completions); `gpt-4o-mini`, `claude-3-5-haiku` and `bedrock-claude` are chat models
(the prompt sent as one user message, the answer translated back). Every answer and
chunk is validated against OpenAI's published schema; spend is read from the ledger.
"""

from __future__ import annotations

import json
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

INSTRUCT = "instruct"
CHAT_MODELS = ("chat-openai", "chat-claude", "chat-bedrock")
MODELS = (INSTRUCT, *CHAT_MODELS)
PRICE_IN, PRICE_OUT = 2, 10  # micro-dollars per token
MODEL_INFO = {"input_cost_per_token": PRICE_IN / 1e6, "output_cost_per_token": PRICE_OUT / 1e6}
PROMPT = "Say this is a test [sim-chunks:4]"


@pytest.fixture
def env(
    spend_env: GatewayTable,
    gateway_env: SimulatorApp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> GatewayTable:
    from conftest import ANTHROPIC_KEY, OPENAI_KEY

    sim = gateway_env.state.url
    deployments = {
        INSTRUCT: {
            "model": "openai/gpt-3.5-turbo-instruct",
            "api_base": f"{sim}/v1",
            "api_key": OPENAI_KEY,
        },
        "chat-openai": {
            "model": "openai/gpt-4o-mini",
            "api_base": f"{sim}/v1",
            "api_key": OPENAI_KEY,
        },
        "chat-claude": {
            "model": "anthropic/claude-3-5-haiku-20241022",
            "api_base": sim,
            "api_key": ANTHROPIC_KEY,
        },
        "chat-bedrock": {
            "model": "bedrock/us.amazon.nova-lite-v1:0",
            "api_base": sim,
            "aws_region_name": "us-east-1",
        },
        "embedder": {
            "model": "openai/text-embedding-3-small",
            "api_base": f"{sim}/v1",
            "api_key": OPENAI_KEY,
        },
    }
    entries = [
        {"model_name": name, "litellm_params": params, "model_info": MODEL_INFO}
        for name, params in deployments.items()
    ]
    use_models(tmp_path / "config.yaml", sim, entries, monkeypatch)
    return spend_env


async def post(key: str, body: dict[str, Any]) -> httpx.Response:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        return await client.post("/v1/completions", json=body, headers=bearer(key))


@pytest.mark.parametrize("model", MODELS)
async def test_plain_and_streamed_answers_agree_and_are_charged_exactly(
    env: GatewayTable, model: str
) -> None:
    key = make_key(env)
    client = async_sdk(key)
    whole = await client.completions.create(model=model, prompt=PROMPT, max_tokens=50)
    assert whole.object == "text_completion"
    assert whole.model == model
    assert whole.id.startswith("cmpl-")
    assert whole.choices[0].finish_reason == "stop"
    assert whole.choices[0].text
    assert whole.usage is not None
    chunks = [
        chunk
        async for chunk in await client.completions.create(
            model=model,
            prompt=PROMPT,
            max_tokens=50,
            stream=True,
            stream_options={"include_usage": True},
        )
    ]
    text = "".join(c.choices[0].text for c in chunks if c.choices)
    assert text == whole.choices[0].text
    assert len([c for c in chunks if c.choices and c.choices[0].text]) >= 2
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert all(reason is None for reason in finishes[:-1])
    assert chunks[-1].choices == []
    counts = ("prompt_tokens", "completion_tokens", "total_tokens")
    streamed_usage = chunks[-1].usage
    assert streamed_usage is not None
    assert [getattr(streamed_usage, n) for n in counts] == [getattr(whole.usage, n) for n in counts]
    assert await drain(env) == 2
    usage = whole.usage
    cost = usage.prompt_tokens * PRICE_IN + usage.completion_tokens * PRICE_OUT
    assert [item["spend_micros"] for item in ledger(env)] == [cost, cost]


@pytest.mark.parametrize("model", MODELS)
async def test_answers_and_chunks_follow_openai_schema(env: GatewayTable, model: str) -> None:
    from gateway.providers.sse import SSEDecoder

    key = make_key(env)
    plain = await post(key, {"model": model, "prompt": PROMPT})
    assert plain.status_code == 200, plain.text
    validate("CreateCompletionResponse", plain.json())
    streamed = await post(
        key,
        {
            "model": model,
            "prompt": PROMPT,
            "stream": True,
            "stream_options": {"include_usage": True},
        },
    )
    assert streamed.status_code == 200, streamed.text
    events = [e.data for e in SSEDecoder().feed(streamed.content)]
    assert events[-1] == "[DONE]"
    for data in events[:-1]:
        chunk = json.loads(data)
        # The schema documents the finished object; a chunk's choice is unfinished
        # (finish_reason null) until its last chunk, as OpenAI streams it.
        for choice in chunk["choices"]:
            if choice["finish_reason"] is None:
                choice["finish_reason"] = "stop"
        validate("CreateCompletionResponse", chunk)


async def test_passthrough_keeps_what_only_completion_models_do(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    key = make_key(env)
    response = await post(
        key, {"model": INSTRUCT, "prompt": ["first prompt", "second prompt"], "n": 2, "echo": True}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    validate("CreateCompletionResponse", body)
    assert len(body["choices"]) == 4
    sent = gateway_env.requests[-1]
    assert sent["path"] == "/v1/completions"
    assert sent["json"]["model"] == "gpt-3.5-turbo-instruct"
    assert sent["json"]["echo"] is True


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"prompt": ["one", "two"]}, "prompt"),
        ({"prompt": [1, 2, 3]}, "prompt"),
        ({"prompt": "x", "echo": True}, "echo"),
        ({"prompt": "x", "suffix": "end"}, "suffix"),
        ({"prompt": "x", "logprobs": 2}, "logprobs"),
        ({"prompt": "x", "best_of": 3}, "best_of"),
    ],
)
async def test_what_a_chat_model_cannot_do_is_a_400_naming_it(
    env: GatewayTable, gateway_env: SimulatorApp, fields: dict[str, Any], param: str
) -> None:
    key = make_key(env)
    response = await post(key, {"model": "chat-claude", **fields})
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    validate("ErrorResponse", response.json())
    assert error["param"] == param
    assert gateway_env.requests == []


async def test_embedding_model_is_a_400_naming_endpoint_and_provider(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    key = make_key(env)
    response = await post(key, {"model": "embedder", "prompt": "x"})
    assert response.status_code == 400, response.text
    message = response.json()["error"]["message"]
    assert "/v1/completions" in message
    assert "'openai'" in message
    assert "embedding" in message
    assert gateway_env.requests == []
    assert await drain(env) == 0

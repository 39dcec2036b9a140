"""Azure OpenAI and Azure AI Foundry through the whole app, against the simulator's Azure
routes: chat plain and streamed on each API (dated deployments, v1, Foundry's /models)
and each credential (api-key, Entra ID client credentials), embeddings, the Entra token
minted once per sandbox, content-filter refusals as OpenAI-shaped errors, and the
official openai SDK as the client."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import openai
import pytest

from conftest import MASTER_KEY, use_models
from keys import asgi_client, async_sdk, bearer, chat
from openapi import validate

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

AZURE_KEY = "azure-sim-canary-0123456789"
FOUNDRY_KEY = "foundry-sim-canary-0123456789"
CLIENT_SECRET = "entra-sim-secret-canary"
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CHAT_MODELS = ("azure-key", "azure-v1", "azure-entra", "foundry")
UPSTREAM_PATHS = {
    "azure-key": "/openai/deployments/gpt-4o-mini-prod/chat/completions",
    "azure-v1": "/openai/v1/chat/completions",
    "azure-entra": "/openai/deployments/gpt-4o-mini-prod/chat/completions",
    "foundry": "/models/chat/completions",
}
SECRETS = (AZURE_KEY, FOUNDRY_KEY, CLIENT_SECRET, MASTER_KEY)


def entra(sim: str, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {
        "tenant_id": TENANT,
        "client_id": "0f5f0e1c-4c8e-4b0d-9a55-7a3c4f2b1e90",
        "client_secret": secret,
        "azure_authority_host": sim,
    }


@pytest.fixture
def env(gateway_env: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    sim = gateway_env.state.url
    deployment = {"model": "azure/gpt-4o-mini-prod", "api_base": sim}
    params: dict[str, dict[str, Any]] = {
        "azure-key": {**deployment, "api_key": AZURE_KEY},
        "azure-v1": {**deployment, "api_key": AZURE_KEY, "api_version": "v1"},
        "azure-entra": {**deployment, **entra(sim)},
        "azure-refused": {**deployment, **entra(sim, "bad-secret")},
        "foundry": {
            "model": "azure_ai/Mistral-Large-2411",
            "api_base": f"{sim}/models",
            "api_key": FOUNDRY_KEY,
        },
        "azure-embed": {
            "model": "azure/text-embedding-3-small-prod",
            "api_base": sim,
            "api_key": AZURE_KEY,
        },
    }
    entries = [{"model_name": name, "litellm_params": p} for name, p in params.items()]
    entries[-1]["model_info"] = {"mode": "embedding"}
    use_models(tmp_path / "config.yaml", sim, entries, monkeypatch)
    return sim


async def post(path: str, body: dict[str, Any]) -> httpx.Response:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        return await client.post(path, json=body, headers=bearer(MASTER_KEY))


def azure_requests(sim: SimulatorApp) -> list[dict[str, Any]]:
    return [r for r in sim.requests if r["vendor"] == "azure"]


def mints(sim: SimulatorApp) -> int:
    return sum(1 for r in sim.requests if r["vendor"] == "entra")


def sse_data(text: str) -> list[Any]:
    lines = [line.removeprefix("data: ") for line in text.split("\n") if line.startswith("data: ")]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


# ---- chat -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", CHAT_MODELS)
async def test_chat_plain(env: str, gateway_env: SimulatorApp, model: str) -> None:
    response = await post("/v1/chat/completions", chat(model, "hello there"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == model
    assert body["choices"][0]["message"]["content"] == "Echo: hello there"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] > 0
    assert response.headers["x-gateway-provider"] == ("azure_ai" if model == "foundry" else "azure")
    [sent] = azure_requests(gateway_env)
    assert sent["path"] == UPSTREAM_PATHS[model]
    assert_no_secret(response.text)


@pytest.mark.parametrize("model", CHAT_MODELS)
async def test_chat_streamed(env: str, gateway_env: SimulatorApp, model: str) -> None:
    body = chat(
        model, "hello there [sim-chunks:3]", stream=True, stream_options={"include_usage": True}
    )
    response = await post("/v1/chat/completions", body)
    assert response.status_code == 200, response.text
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    *content, usage = chunks
    assert all(chunk["choices"] for chunk in content), "an empty-choices chunk leaked"
    assert all("delta" in chunk["choices"][0] for chunk in content)
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in content) == (
        "Echo: hello there"
    )
    assert content[-1]["choices"][0]["finish_reason"] == "stop"
    assert {chunk["model"] for chunk in chunks} == {model}
    assert usage["choices"] == []
    assert usage["usage"]["completion_tokens"] > 0
    [sent] = azure_requests(gateway_env)
    if model == "foundry":  # the Model Inference API refuses stream_options
        assert "stream_options" not in sent["json"]
    else:
        assert sent["json"]["stream_options"] == {"include_usage": True}


async def test_the_deployment_is_in_the_path_and_the_key_in_api_key(
    env: str, gateway_env: SimulatorApp
) -> None:
    await post("/v1/chat/completions", chat("azure-key"))
    await post("/v1/chat/completions", chat("azure-v1"))
    await post("/v1/chat/completions", chat("foundry"))
    dated, v1, foundry = azure_requests(gateway_env)
    assert dated["query"] == "api-version=2024-10-21"
    assert dated["headers"]["api-key"] == AZURE_KEY
    assert "authorization" not in dated["headers"]
    assert dated["json"]["model"] == "gpt-4o-mini-prod"
    assert v1["query"] == ""
    assert v1["json"]["model"] == "gpt-4o-mini-prod"
    assert foundry["query"] == "api-version=2024-05-01-preview"
    assert foundry["headers"]["api-key"] == FOUNDRY_KEY
    assert foundry["json"]["model"] == "Mistral-Large-2411"


# ---- Entra ID ---------------------------------------------------------------------------------


async def test_the_entra_token_is_minted_once_for_many_requests(
    env: str, gateway_env: SimulatorApp
) -> None:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        for stream in (False, True, False):
            response = await client.post(
                "/v1/chat/completions",
                json=chat("azure-entra", stream=stream),
                headers=bearer(MASTER_KEY),
            )
            assert response.status_code == 200, response.text
    assert mints(gateway_env) == 1
    [token_request] = [r for r in gateway_env.requests if r["vendor"] == "entra"]
    assert token_request["path"] == f"/{TENANT}/oauth2/v2.0/token"
    form = dict(part.split("=", 1) for part in token_request["body"].split("&"))
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "https%3A%2F%2Fcognitiveservices.azure.com%2F.default"
    sent = azure_requests(gateway_env)
    assert len(sent) == 3
    tokens = {r["headers"]["authorization"] for r in sent}
    assert len(tokens) == 1
    assert tokens.pop().startswith("Bearer sim-entra.")
    assert all("api-key" not in r["headers"] for r in sent)


async def test_a_refused_entra_credential_is_an_upstream_auth_error(
    env: str, gateway_env: SimulatorApp
) -> None:
    response = await post("/v1/chat/completions", chat("azure-refused"))
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_auth_failed"
    assert azure_requests(gateway_env) == []  # no token, no call
    assert_no_secret(response.text)
    assert "bad-secret" not in response.text


# ---- embeddings -------------------------------------------------------------------------------


async def test_embeddings(env: str, gateway_env: SimulatorApp) -> None:
    body = {"model": "azure-embed", "input": ["the quick brown fox", "jumps"]}
    response = await post("/v1/embeddings", body)
    assert response.status_code == 200, response.text
    answer = response.json()
    validate("CreateEmbeddingResponse", answer)
    assert answer["model"] == "azure-embed"
    assert [item["index"] for item in answer["data"]] == [0, 1]
    assert len(answer["data"][0]["embedding"]) == 1536
    [sent] = azure_requests(gateway_env)
    assert sent["path"] == "/openai/deployments/text-embedding-3-small-prod/embeddings"
    assert sent["query"] == "api-version=2024-10-21"
    assert sent["headers"]["api-key"] == AZURE_KEY


async def test_foundry_serves_no_embeddings(env: str) -> None:
    response = await post("/v1/embeddings", {"model": "foundry", "input": "x"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_endpoint"


# ---- refusals and failures --------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", ["azure-key", "foundry"])
async def test_a_content_filter_refusal_is_an_openai_shaped_400(
    env: str, model: str, stream: bool
) -> None:
    body = chat(model, "something awful [sim-fault:content_policy]", stream=stream)
    response = await post("/v1/chat/completions", body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == "content_policy_violation"
    assert error["type"] == "invalid_request_error"
    assert error["message"] == "Azure's content filter refused the request: hate (high)."
    assert "ResponsibleAIPolicyViolation" not in response.text
    assert_no_secret(response.text)


async def test_throttling_passes_retry_after(env: str, gateway_env: SimulatorApp) -> None:
    gateway_env.set_fault("429", times=1)
    response = await post("/v1/chat/completions", chat("azure-key"))
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "rate_limit_exceeded"
    assert response.headers["retry-after"] == "7"


# ---- the official openai SDK ------------------------------------------------------------------


async def test_the_openai_sdk_against_an_azure_deployment(env: str) -> None:
    client = async_sdk(MASTER_KEY)
    whole = await client.chat.completions.create(
        model="azure-key", messages=[{"role": "user", "content": "hello sdk"}]
    )
    assert whole.choices[0].message.content == "Echo: hello sdk"
    assert whole.model == "azure-key"
    assert whole.usage is not None
    assert whole.usage.total_tokens > 0
    assert whole.model_extra is not None
    assert "prompt_filter_results" in whole.model_extra
    stream = await client.chat.completions.create(
        model="azure-key",
        messages=[{"role": "user", "content": "hello sdk"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: hello sdk"
    assert chunks[-1].usage is not None
    assert not chunks[-1].choices
    embedded = await client.embeddings.create(model="azure-embed", input="hello")
    assert len(embedded.data[0].embedding) == 1536
    with pytest.raises(openai.BadRequestError) as caught:
        await client.chat.completions.create(
            model="azure-key",
            messages=[{"role": "user", "content": "[sim-fault:content_policy]"}],
        )
    assert caught.value.code == "content_policy_violation"

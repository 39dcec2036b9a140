"""Gemini through the whole app against the simulator's Google routes: AI Studio (key in
x-goog-api-key) and Vertex AI (a service-account key generated here, its JWT signed and
verified, the bearer token minted once at the simulator's /token), plain and streamed
chat, a tool call's round trip with its thought signature, refusals, and errors."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from chunks import fold
from conftest import MASTER_KEY, use_models
from keys import asgi_client, bearer, chat

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

STUDIO_KEY = "AIza-sim-canary-0123456789"
PROJECT = "acme-prod"
LOCATION = "europe-west4"
VERTEX_PATH = (
    f"/v1/projects/{PROJECT}/locations/{LOCATION}/publishers/google/models/gemini-2.5-flash"
)
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


def service_account(token_uri: str) -> tuple[dict[str, str], str]:
    """A fresh RSA service-account key (as a Google key file holds it) and its PEM."""
    from gateway.local.google_key import service_account as made

    info = {
        **made(token_uri, f"gateway@{PROJECT}.iam.gserviceaccount.com"),
        "private_key_id": "0123456789abcdef0123456789abcdef01234567",
        "client_id": "123456789012345678901",
    }
    return info, info["private_key"]


@pytest.fixture
def env(
    gateway_env: SimulatorApp, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    sim = gateway_env.state.url
    info, pem = service_account(f"{sim}/token")
    gateway_env.sim.google_public_key_pem = pem  # the simulator checks the JWT's signature
    monkeypatch.setenv("TEST_VERTEX_SA", json.dumps(info))
    studio = {"model": "gemini/gemini-2.5-flash", "api_base": sim}
    vertex = {
        "model": "vertex_ai/gemini-2.5-flash",
        "api_base": sim,
        "vertex_project": PROJECT,
        "vertex_location": LOCATION,
        "vertex_credentials": "os.environ/TEST_VERTEX_SA",
    }
    params: dict[str, dict[str, Any]] = {
        "studio": {**studio, "api_key": STUDIO_KEY},
        "vertex": vertex,
        "studio-unset": {**studio, "api_key": "os.environ/UNSET_GEMINI_KEY"},
        "vertex-unset": {**vertex, "vertex_credentials": "os.environ/UNSET_VERTEX_SA"},
        "studio-unknown": {**studio, "model": "gemini/palm-2", "api_key": STUDIO_KEY},
        "studio-embed": {**studio, "model": "gemini/gemini-embedding-001", "api_key": STUDIO_KEY},
    }
    entries = [{"model_name": name, "litellm_params": p} for name, p in params.items()]
    use_models(tmp_path / "config.yaml", sim, entries, monkeypatch)
    return {"sim": sim, "private_key": pem}


async def post(body: dict[str, Any]) -> httpx.Response:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        return await client.post("/v1/chat/completions", json=body, headers=bearer(MASTER_KEY))


def google_requests(sim: SimulatorApp) -> list[dict[str, Any]]:
    return [r for r in sim.requests if r["vendor"] in ("gemini", "vertex_ai")]


def mints(sim: SimulatorApp) -> int:
    return sum(1 for r in sim.requests if r["vendor"] == "google_oauth")


def sse_data(text: str) -> list[Any]:
    lines = [line.removeprefix("data: ") for line in text.split("\n") if line.startswith("data: ")]
    return [line if line == "[DONE]" else json.loads(line) for line in lines]


def assert_no_secret(text: str) -> None:
    assert STUDIO_KEY not in text
    assert MASTER_KEY not in text
    assert "PRIVATE KEY" not in text


# ---- chat -----------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["studio", "vertex"])
async def test_chat_plain(model: str, env: dict[str, str], gateway_env: SimulatorApp) -> None:
    response = await post(chat(model, "hello there"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == model
    assert body["choices"][0]["message"]["content"] == "Echo: hello there"
    assert body["choices"][0]["finish_reason"] == "stop"
    assert body["usage"]["prompt_tokens"] > 0
    assert response.headers["x-gateway-provider"] == (
        "gemini" if model == "studio" else "vertex_ai"
    )
    assert "x-gateway-cost-usd" in response.headers  # genai-prices' "google" prices it
    [sent] = google_requests(gateway_env)
    if model == "studio":
        assert sent["path"] == "/v1beta/models/gemini-2.5-flash:generateContent"
        assert sent["headers"]["x-goog-api-key"] == STUDIO_KEY
        assert "authorization" not in sent["headers"]
    else:
        assert sent["path"] == f"{VERTEX_PATH}:generateContent"
        assert sent["headers"]["authorization"].startswith("Bearer ")
        assert "x-goog-api-key" not in sent["headers"]
    assert sent["json"]["contents"] == [{"role": "user", "parts": [{"text": "hello there"}]}]
    assert_no_secret(response.text)


@pytest.mark.parametrize("model", ["studio", "vertex"])
async def test_chat_streamed(model: str, env: dict[str, str], gateway_env: SimulatorApp) -> None:
    body = chat(model, "hello there [sim-chunks:4]", stream=True)
    response = await post({**body, "stream_options": {"include_usage": True}})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_data(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    folded = fold(chunks)
    assert folded["message"]["content"] == "Echo: hello there"
    assert folded["finish_reason"] == "stop"
    assert chunks[-1]["usage"]["completion_tokens"] > 0
    [sent] = google_requests(gateway_env)
    assert sent["path"].endswith(":streamGenerateContent")
    assert sent["query"] == "alt=sse"
    assert_no_secret(response.text)


async def test_the_vertex_token_is_minted_once_for_many_requests(
    env: dict[str, str], gateway_env: SimulatorApp
) -> None:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        for stream in (False, True, False, True):
            response = await client.post(
                "/v1/chat/completions",
                json=chat("vertex", "hello", stream=stream),
                headers=bearer(MASTER_KEY),
            )
            assert response.status_code == 200, response.text
    assert mints(gateway_env) == 1
    [token_request] = [r for r in gateway_env.requests if r["vendor"] == "google_oauth"]
    assert token_request["path"] == "/token"
    form = dict(part.split("=", 1) for part in token_request["body"].split("&"))
    assert form["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
    sent = google_requests(gateway_env)
    assert len(sent) == 4
    assert len({r["headers"]["authorization"] for r in sent}) == 1


async def test_tool_call_round_trip(env: dict[str, str], gateway_env: SimulatorApp) -> None:
    question = {"role": "user", "content": "What is the weather in Paris?"}
    first = await post({"model": "studio", "messages": [question], "tools": [WEATHER]})
    assert first.status_code == 200, first.text
    choice = first.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    [call] = choice["message"]["tool_calls"]
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"location": "Paris"}
    history = [
        question,
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": call["id"], "content": "18°C and cloudy"},
    ]
    second = await post({"model": "studio", "messages": history, "tools": [WEATHER]})
    assert second.status_code == 200, second.text
    assert second.json()["choices"][0]["finish_reason"] == "stop"
    replayed = google_requests(gateway_env)[-1]["json"]["contents"]
    assert replayed[1]["role"] == "model"
    assert replayed[1]["parts"][0]["functionCall"] == {
        "name": "get_weather",
        "args": {"location": "Paris"},
    }
    # 2.5 Flash thinks by default, so its call carries a signature, which comes back on it.
    base, _, signature = call["id"].partition("__thought__")
    assert base.startswith("call_")
    assert signature
    assert replayed[1]["parts"][0]["thoughtSignature"] == signature
    assert replayed[2]["parts"] == [
        {
            "functionResponse": {
                "name": "get_weather",
                "response": {"content": "18°C and cloudy"},
            }
        }
    ]


# ---- refusals and errors ----------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("marker", ["safety", "blocked_prompt"])
async def test_refusals_are_content_filter(
    marker: str, stream: bool, env: dict[str, str], gateway_env: SimulatorApp
) -> None:
    response = await post(chat("studio", f"tell me [sim-fault:{marker}]", stream=stream))
    assert response.status_code == 200, response.text
    if stream:
        events = sse_data(response.text)
        assert events[-1] == "[DONE]"
        assert fold(events[:-1])["finish_reason"] == "content_filter"
    else:
        assert response.json()["choices"][0]["finish_reason"] == "content_filter"


@pytest.mark.parametrize(
    ("model", "text", "status", "code", "retry_after"),
    [
        ("studio", "x [sim-fault:429]", 429, "rate_limit_exceeded", "7"),  # RetryInfo
        ("vertex", "x [sim-fault:429]", 429, "rate_limit_exceeded", None),
        ("vertex", "x [sim-fault:503]", 503, "service_unavailable", "1"),
        ("vertex", "x [sim-fault:500]", 502, "upstream_error", None),
        ("studio", "x [sim-fault:400]", 400, "invalid_value", None),
        ("vertex", "x [sim-fault:context_length]", 400, "context_length_exceeded", None),
        ("studio", "x [sim-fault:context_length]", 400, "context_length_exceeded", None),
    ],
)
async def test_upstream_errors(
    model: str,
    text: str,
    status: int,
    code: str,
    retry_after: str | None,
    env: dict[str, str],
    gateway_env: SimulatorApp,
) -> None:
    response = await post(chat(model, text))
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers.get("retry-after") == retry_after
    assert_no_secret(response.text)


@pytest.mark.parametrize("model", ["studio-unset", "vertex-unset"])
async def test_unset_secrets_fail_their_model_only(
    model: str, env: dict[str, str], gateway_env: SimulatorApp
) -> None:
    response = await post(chat(model, "hello"))
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_auth_failed"
    assert google_requests(gateway_env) == []  # nothing was sent without credentials
    assert (await post(chat("studio", "hello"))).status_code == 200


async def test_an_unknown_model_is_an_upstream_error(
    env: dict[str, str], gateway_env: SimulatorApp
) -> None:
    response = await post(chat("studio-unknown", "hello"))
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_error"
    assert "does not know this model" in response.json()["error"]["message"]


async def test_a_refused_service_account_is_an_upstream_auth_error(
    env: dict[str, str], gateway_env: SimulatorApp
) -> None:
    other, _ = service_account(f"{env['sim']}/token")
    gateway_env.sim.google_public_key_pem = other["private_key"]  # not the key that signs
    response = await post(chat("vertex", "hello"))
    assert response.status_code == 502, response.text
    assert response.json()["error"]["code"] == "upstream_auth_failed"
    assert google_requests(gateway_env) == []


async def test_embeddings_go_to_the_openai_compatible_endpoint(
    env: dict[str, str], gateway_env: SimulatorApp
) -> None:
    """AI Studio's embeddings, through Google's OpenAI-compatible API, the key a bearer."""
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        response = await client.post(
            "/v1/embeddings",
            json={"model": "studio-embed", "input": ["a", "b"]},
            headers=bearer(MASTER_KEY),
        )
    assert response.status_code == 200, response.text
    body = response.json()
    assert [item["index"] for item in body["data"]] == [0, 1]
    assert body["model"] == "studio-embed"
    (sent,) = [r for r in gateway_env.requests if r["path"].endswith("/embeddings")]
    assert sent["path"] == "/v1beta/openai/embeddings"
    assert sent["headers"]["authorization"] == f"Bearer {STUDIO_KEY}"
    assert sent["json"]["model"] == "gemini-embedding-001"

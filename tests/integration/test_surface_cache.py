"""The response cache on embeddings, legacy completions and rerank: a repeat is a hit
in the API's own shape (a streamed completion replays as a stream), under the new
request's id and model, costing nothing; each API's entries are apart from the others'.
The cache's bucket lives on the AWS emulation; the gateway talks to the simulator."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from test_cache import settle

from conftest import MASTER_KEY, OPENAI_KEY, write_config
from keys import asgi_client, bearer
from openapi import validate

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio
AUTH = bearer(MASTER_KEY)


@pytest.fixture
def app(
    gateway_env: SimulatorApp,
    gateway_table: GatewayTable,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):  # type: ignore[no-untyped-def]
    import boto3

    from gateway.http import dependencies
    from gateway.http.app import create_app

    sim = gateway_env.state.url
    bucket = f"cache-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=gateway_table.emulation.url).create_bucket(Bucket=bucket)
    path = write_config(tmp_path / "cached.yaml", sim)
    config = json.loads(path.read_text())
    config["litellm_settings"] = {"cache": True, "cache_params": {"type": "s3", "ttl": 600}}
    config["model_list"] += [
        {
            "model_name": name,
            "litellm_params": {"model": model, "api_base": f"{sim}/v1", "api_key": OPENAI_KEY},
        }
        for name, model in (
            ("embedder", "openai/text-embedding-3-small"),
            ("instruct", "openai/gpt-3.5-turbo-instruct"),
            ("reranker", "hosted_vllm/bge-reranker-v2-m3"),
        )
    ]
    path.write_text(json.dumps(config))
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    monkeypatch.setenv("GATEWAY_CACHE_BUCKET", bucket)
    dependencies.reset()
    return create_app()


async def twice(app: Any, path: str, body: dict[str, Any]) -> tuple[Any, Any]:
    async with asgi_client(app) as client:
        first = await client.post(path, json=body, headers=AUTH)
        await settle(app)
        second = await client.post(path, json=body, headers=AUTH)
    assert first.status_code == second.status_code == 200, second.text
    assert first.headers["x-gateway-cache"] == "miss"
    assert second.headers["x-gateway-cache"] == "hit"
    assert second.headers["x-gateway-cost-usd"] == "0.000000"
    return first, second


async def test_embeddings_hit_is_the_same_vectors(app: Any, gateway_env: SimulatorApp) -> None:
    body = {"model": "embedder", "input": ["alpha", "beta"], "encoding_format": "base64"}
    first, second = await twice(app, "/v1/embeddings", body)
    assert len(gateway_env.requests) == 1
    validate("CreateEmbeddingResponse", {**second.json(), "data": []})
    assert second.json() == first.json()


def stream_text(response: Any) -> tuple[str, dict[str, Any]]:
    """A streamed completion's text and usage."""
    from gateway.providers.sse import SSEDecoder

    assert response.headers["content-type"].startswith("text/event-stream")
    events = [e.data for e in SSEDecoder().feed(response.content)]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(data) for data in events[:-1]]
    assert {c["id"] for c in chunks} == {f"cmpl-{response.headers['x-request-id']}"}
    text = "".join(c["choices"][0]["text"] for c in chunks if c["choices"])
    return text, chunks[-1]["usage"]


@pytest.mark.parametrize("model", ["instruct", "claude-3-5-haiku"])
async def test_completion_hit_replays_plain_or_streamed(
    app: Any, gateway_env: SimulatorApp, model: str
) -> None:
    body = {"model": model, "prompt": "cache me [sim-chunks:3]", "max_tokens": 40}
    streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
    first, second = await twice(app, "/v1/completions", body)
    one, two = first.json(), second.json()
    validate("CreateCompletionResponse", two)
    assert two["choices"] == one["choices"]
    assert two["usage"] == one["usage"]
    assert two["id"] == f"cmpl-{second.headers['x-request-id']}"
    async with asgi_client(app) as client:
        replayed = await client.post("/v1/completions", json=streamed, headers=AUTH)
    assert replayed.headers["x-gateway-cache"] == "hit"
    assert stream_text(replayed) == (one["choices"][0]["text"], one["usage"])
    assert len(gateway_env.requests) == 1


@pytest.mark.parametrize("model", ["instruct", "claude-3-5-haiku"])
async def test_a_streamed_completion_is_recorded_for_later_hits(
    app: Any, gateway_env: SimulatorApp, model: str
) -> None:
    body = {"model": model, "prompt": "record me [sim-chunks:3]", "max_tokens": 40}
    streamed = {**body, "stream": True, "stream_options": {"include_usage": True}}
    live, replayed = await twice(app, "/v1/completions", streamed)
    assert stream_text(replayed) == stream_text(live)
    async with asgi_client(app) as client:
        plain = await client.post("/v1/completions", json=body, headers=AUTH)
    assert plain.headers["x-gateway-cache"] == "hit"
    validate("CreateCompletionResponse", plain.json())
    assert plain.json()["choices"][0]["text"] == stream_text(live)[0]
    assert len(gateway_env.requests) == 1


async def test_a_lookup_is_part_of_the_request_document_not_a_line_of_its_own(
    app: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.telemetry import metrics

    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    metrics._settings.cache_clear()
    monkeypatch.setattr(metrics, "_settings", metrics._settings.__wrapped__)
    body = {"model": "embedder", "input": "counted once"}
    capsys.readouterr()
    await twice(app, "/v1/embeddings", body)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]

    def scalar(raw: Any) -> float:
        return float(raw[0] if isinstance(raw, list) else raw)

    assert [(d["Result"], scalar(d["CacheHit"]), scalar(d["Requests"])) for d in lines] == [
        ("miss", 0.0, 1.0),
        ("hit", 1.0, 1.0),
    ]

"""The response cache on the request path: hits, streams replayed, tenants apart, faults.

The bucket lives on the AWS emulation; the gateway talks to the provider simulator.
Writes run in the background, so tests wait for them (`settle`) before asking again.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import TYPE_CHECKING, Any

import openai
import pytest

from conftest import MASTER_KEY, write_config
from keys import asgi_client, bearer, chat, make_key, make_team

if TYPE_CHECKING:
    from pathlib import Path

    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio
AUTH = bearer(MASTER_KEY)
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}


@pytest.fixture
def app(
    gateway_env: SimulatorApp,
    gateway_table: GatewayTable,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
):  # type: ignore[no-untyped-def]
    """The API app with the cache on, and its own bucket on the emulation."""
    import boto3

    from gateway.http import dependencies
    from gateway.http.app import create_app

    bucket = f"cache-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=gateway_table.emulation.url).create_bucket(Bucket=bucket)
    path = write_config(tmp_path / "cached.yaml", gateway_env.state.url)
    config = json.loads(path.read_text())
    config["litellm_settings"] = {"cache": True, "cache_params": {"type": "s3", "ttl": 600}}
    path.write_text(json.dumps(config))
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    monkeypatch.setenv("GATEWAY_CACHE_BUCKET", bucket)
    dependencies.reset()
    application = create_app()
    application.state.bucket = bucket
    return application


async def settle(app: Any) -> None:
    """Wait for the background cache writes."""
    pending = list(getattr(app.state, "cache_writes", ()))
    if pending:
        await asyncio.gather(*pending)


async def ask(client: Any, body: dict[str, Any], headers: dict[str, str] = AUTH) -> Any:
    return await client.post("/v1/chat/completions", json=body, headers=headers)


async def test_a_repeat_is_served_from_the_cache(app: Any, gateway_env: SimulatorApp) -> None:
    async with asgi_client(app) as client:
        first = await ask(client, chat())
        await settle(app)
        second = await ask(client, chat())
    assert first.headers["x-gateway-cache"] == "miss"
    assert second.headers["x-gateway-cache"] == "hit"
    assert second.headers["x-gateway-cache-key"] == first.headers["x-gateway-cache-key"]
    assert second.headers["x-gateway-cost-usd"] == "0.000000"
    assert len(gateway_env.requests) == 1
    one, two = first.json(), second.json()
    assert two["choices"] == one["choices"]
    assert two["usage"] == one["usage"]
    assert two["id"] != one["id"]
    assert two["id"] == f"chatcmpl-{second.headers['x-request-id']}"


async def sdk_stream(app: Any, **body: Any) -> list[Any]:
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with openai.AsyncOpenAI(
        base_url="http://gateway/v1",
        api_key=MASTER_KEY,
        max_retries=0,
        http_client=httpx.AsyncClient(transport=transport),
    ) as client:
        stream = await client.chat.completions.create(stream=True, **body)
        return [chunk async for chunk in stream]


def shape(chunks: list[Any]) -> list[Any]:
    """What a replay must keep: every chunk's deltas, finish reason and usage."""
    out = []
    for chunk in chunks:
        data = chunk.model_dump(exclude={"id", "created", "system_fingerprint"})
        out.append(data)
    return out


@pytest.mark.parametrize("tools", [False, True], ids=["text", "tool call"])
async def test_a_streamed_repeat_replays_the_same_stream(
    app: Any, gateway_env: SimulatorApp, tools: bool
) -> None:
    body: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "[sim-chunks:7] what is the weather in Paris"}],
        "stream_options": {"include_usage": True},
    }
    if tools:
        body["tools"] = [WEATHER_TOOL]
    original = await sdk_stream(app, **body)
    await settle(app)
    replayed = await sdk_stream(app, **body)
    assert len(gateway_env.requests) == 1
    assert shape(replayed) == shape(original)
    assert len({c.id for c in replayed}) == 1
    assert replayed[0].id != original[0].id
    if tools:
        assert any(c.choices and c.choices[0].delta.tool_calls for c in replayed)


async def test_streams_and_plain_answers_share_entries(app: Any, gateway_env: SimulatorApp) -> None:
    async with asgi_client(app) as client:
        streamed = await ask(client, chat(text="one", stream=True))
        await settle(app)
        plain = await ask(client, chat(text="one"))
        first_plain = await ask(client, chat(text="two"))
        await settle(app)
        as_stream = await ask(client, chat(text="two", stream=True))
    assert plain.headers["x-gateway-cache"] == "hit"
    assert plain.json()["choices"][0]["message"]["content"] == "Echo: one"
    assert as_stream.headers["x-gateway-cache"] == "hit"
    lines = [line[6:] for line in as_stream.text.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    deltas = [json.loads(line)["choices"][0]["delta"] for line in lines[:-1]]
    assert deltas[0]["role"] == "assistant"
    assert "".join(d.get("content") or "" for d in deltas) == "Echo: two"
    assert first_plain.headers["x-gateway-cache"] == "miss"
    assert streamed.headers["x-gateway-cache"] == "miss"
    assert len(gateway_env.requests) == 2


async def test_tenants_never_share_entries(
    app: Any, gateway_env: SimulatorApp, gateway_table: GatewayTable
) -> None:
    make_team(gateway_table, "red")
    make_team(gateway_table, "blue")
    red, red_too = make_key(gateway_table, team_id="red"), make_key(gateway_table, team_id="red")
    blue = make_key(gateway_table, team_id="blue")
    alone = make_key(gateway_table)
    async with asgi_client(app) as client:
        for key in (red, red_too, blue, alone):
            await ask(client, chat(), bearer(key))
            await settle(app)
        master = await ask(client, chat())
    # red's entry serves red's other key; blue, a key without a team and the master key
    # each have their own namespace.
    assert len(gateway_env.requests) == 4
    assert master.headers["x-gateway-cache"] == "miss"


async def test_no_cache_no_store_and_namespaces(app: Any, gateway_env: SimulatorApp) -> None:
    async with asgi_client(app) as client:
        await ask(client, chat(cache={"no-store": True}))
        await settle(app)
        stored_nothing = await ask(client, chat())
        await settle(app)
        bypass = await ask(client, chat(cache={"no-cache": True}))
        header_bypass = await client.post(
            "/v1/chat/completions", json=chat(), headers={**AUTH, "cache-control": "no-cache"}
        )
        hit = await ask(client, chat())
        elsewhere = await ask(client, chat(cache={"namespace": "eval"}))
    assert stored_nothing.headers["x-gateway-cache"] == "miss"
    assert bypass.headers["x-gateway-cache"] == "bypass"
    assert header_bypass.headers["x-gateway-cache"] == "bypass"
    assert hit.headers["x-gateway-cache"] == "hit"
    assert elsewhere.headers["x-gateway-cache"] == "miss"
    assert len(gateway_env.requests) == 5
    assert all("cache" not in r["json"] for r in gateway_env.requests)  # never sent upstream


async def test_entries_expire_and_s_maxage_limits_their_age(
    app: Any, gateway_env: SimulatorApp
) -> None:
    async with asgi_client(app) as client:
        await ask(client, chat(cache={"ttl": 1}))
        await settle(app)
        young = await ask(client, chat())
        await asyncio.sleep(1.2)
        expired = await ask(client, chat())  # still in S3 (lifecycle is lazy), not served
        await settle(app)
        renewed = await ask(client, chat())  # the expired object was replaced
        too_old = await ask(client, chat(cache={"s-maxage": 0}))
    assert young.headers["x-gateway-cache"] == "hit"
    assert expired.headers["x-gateway-cache"] == "miss"
    assert renewed.headers["x-gateway-cache"] == "hit"
    assert too_old.headers["x-gateway-cache"] == "miss"
    assert len(gateway_env.requests) == 3


async def test_a_key_may_be_limited_in_its_cache_controls(
    app: Any, gateway_env: SimulatorApp, gateway_table: GatewayTable
) -> None:
    limited = make_key(gateway_table, allowed_cache_controls=("no-store",))
    async with asgi_client(app) as client:
        refused = await ask(client, chat(cache={"no-cache": True}), bearer(limited))
        allowed = await ask(client, chat(cache={"no-store": True}), bearer(limited))
        bad = await ask(client, chat(cache={"forever": True}))
    assert refused.status_code == 403
    assert allowed.status_code == 200
    assert bad.status_code == 400
    assert len(gateway_env.requests) == 1


async def test_failures_are_never_cached(app: Any, gateway_env: SimulatorApp) -> None:
    async with asgi_client(app) as client:
        failed = await ask(client, chat(text="[sim-fault:500] x"))
        broken = await ask(client, chat(text="[sim-fault:error_event] y", stream=True))
        await settle(app)
        gateway_env.set_fault(None)
        again = await ask(client, chat(text="[sim-fault:500] x"))
        again_stream = await ask(client, chat(text="[sim-fault:error_event] y", stream=True))
    assert failed.status_code == 502
    assert '"error"' in broken.text
    assert again.headers.get("x-gateway-cache") != "hit"
    assert again_stream.headers.get("x-gateway-cache") != "hit"


async def test_s3_failing_never_fails_the_request(
    app: Any, gateway_env: SimulatorApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gateway.config import settings

    monkeypatch.setenv("GATEWAY_CACHE_BUCKET", "no-such-bucket")
    settings.cache_clear()
    async with asgi_client(app) as client:
        first = await ask(client, chat())
        await settle(app)
        second = await ask(client, chat())
    assert first.status_code == second.status_code == 200
    assert second.headers["x-gateway-cache"] == "miss"
    assert len(gateway_env.requests) == 2


async def test_an_entry_that_is_no_answer_is_a_miss(app: Any, gateway_env: SimulatorApp) -> None:
    from gateway.cache.keys import CacheKey
    from gateway.cache.store import ResponseCache

    async with asgi_client(app) as client:
        first = await ask(client, chat())
        await settle(app)
        key = CacheKey(id=first.headers["x-gateway-cache-key"], namespace="master")
        store = ResponseCache(app.state.bucket)
        found = await store.get(key)
        assert found.entry is not None
        written = await store.put(
            key,
            {"completion": {"choices": []}, "chunks": None},
            ttl_s=600,
            replace_etag=found.entry.etag,
        )
        assert written
        again = await ask(client, chat())
    assert again.status_code == 200
    assert again.headers["x-gateway-cache"] == "miss"
    assert len(gateway_env.requests) == 2

"""The response cache on the Messages API: hits as Messages or as event streams, on the
native and the translated paths, and never shared with chat or across bodies that differ
only in what chat would not see."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from test_cache import app, settle

from conftest import MASTER_KEY
from gateway.messages.fold import fold
from keys import asgi_client, bearer

if TYPE_CHECKING:
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio
__all__ = ["app"]  # the fixture: the API app with the cache on, its bucket on the emulation
AUTH = bearer(MASTER_KEY)
WEATHER = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
}


def messages(model: str, text: str = "what is the weather in Paris", **extra: Any) -> Any:
    return {
        "model": model,
        "max_tokens": 2000,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def events(raw: str) -> list[dict[str, Any]]:
    import json

    return [
        json.loads(line.removeprefix("data: "))
        for line in raw.splitlines()
        if line.startswith("data: ")
    ]


def answer(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k not in ("id", "model")}


@pytest.mark.parametrize("model", ["claude-3-5-haiku", "bedrock-claude", "gpt-4o-mini"])
@pytest.mark.parametrize(
    ("first_stream", "second_stream"), [(False, False), (True, True), (True, False), (False, True)]
)
async def test_a_repeat_is_answered_from_the_cache_in_the_shape_asked(
    app: Any, gateway_env: SimulatorApp, model: str, first_stream: bool, second_stream: bool
) -> None:
    extra: dict[str, Any] = {"tools": [WEATHER]}
    if model != "gpt-4o-mini":
        extra["thinking"] = {"type": "enabled", "budget_tokens": 1024}
    async with asgi_client(app) as client:
        first = await client.post(
            "/v1/messages", json=messages(model, stream=first_stream, **extra), headers=AUTH
        )
        await settle(app)
        second = await client.post(
            "/v1/messages", json=messages(model, stream=second_stream, **extra), headers=AUTH
        )
    assert first.status_code == second.status_code == 200, second.text
    assert (first.headers["x-gateway-cache"], second.headers["x-gateway-cache"]) == ("miss", "hit")
    assert len(gateway_env.requests) == 1
    one = fold(events(first.text)) if first_stream else first.json()
    two = fold(events(second.text)) if second_stream else second.json()
    assert answer(two) == answer(one)
    assert two["id"] == f"msg_{second.headers['x-request-id']}"
    assert two["model"] == model
    assert any(block["type"] == "tool_use" for block in two["content"])


async def test_chat_and_messages_never_share_an_entry(app: Any, gateway_env: SimulatorApp) -> None:
    async with asgi_client(app) as client:
        chat = await client.post(
            "/v1/chat/completions",
            json={
                "model": "gpt-4o-mini",
                "max_tokens": 2000,
                "messages": [{"role": "user", "content": "hi"}],
            },
            headers=AUTH,
        )
        await settle(app)
        native = await client.post("/v1/messages", json=messages("gpt-4o-mini", "hi"), headers=AUTH)
    assert chat.headers["x-gateway-cache-key"] != native.headers["x-gateway-cache-key"]
    assert native.headers["x-gateway-cache"] == "miss"
    assert len(gateway_env.requests) == 2


async def test_bodies_differing_only_beyond_chat_never_share_an_entry(
    app: Any, gateway_env: SimulatorApp
) -> None:
    document = {
        "type": "document",
        "source": {"type": "text", "media_type": "text/plain", "data": "one"},
    }
    other = {**document, "source": {**document["source"], "data": "two"}}
    keys = set()
    async with asgi_client(app) as client:
        for body, headers in (
            (messages("claude-3-5-haiku", "x"), AUTH),
            (
                messages("claude-3-5-haiku", "x"),
                {**AUTH, "anthropic-beta": "context-1m-2025-08-07"},
            ),
            (
                {
                    **messages("claude-3-5-haiku", "x"),
                    "messages": [
                        {"role": "user", "content": [document, {"type": "text", "text": "x"}]}
                    ],
                },
                AUTH,
            ),
            (
                {
                    **messages("claude-3-5-haiku", "x"),
                    "messages": [
                        {"role": "user", "content": [other, {"type": "text", "text": "x"}]}
                    ],
                },
                AUTH,
            ),
        ):
            response = await client.post("/v1/messages", json=body, headers=headers)
            assert response.status_code == 200, response.text
            assert response.headers["x-gateway-cache"] == "miss"
            keys.add(response.headers["x-gateway-cache-key"])
            await settle(app)
    assert len(keys) == 4

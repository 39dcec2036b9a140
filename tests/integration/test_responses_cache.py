"""The response cache on the Responses API: hits as Responses or as event streams, on the
native path (OpenAI's Responses API) and a translated one (Claude, through chat), each hit
a new response of its own (new ids, stored when `store` is on), keyed by the resolved
conversation rather than by `previous_response_id`, and never shared across tenants.

Every Response and event is validated against OpenAI's published schema
(tests/openapi.py). The cache's bucket and the response store's live on the AWS
emulation; the gateway talks to the provider simulator.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from test_cache import app, settle

from conftest import MASTER_KEY
from keys import asgi_client, bearer, make_key, make_team
from openapi import validate

if TYPE_CHECKING:
    import httpx

    from conftest import GatewayTable, ResponseBucket
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio
__all__ = ["app"]  # the fixture: the API app with the cache on, its bucket on the emulation
AUTH = bearer(MASTER_KEY)
NATIVE = "gpt-4o-mini"  # an OpenAI deployment: the Responses API, relayed
TRANSLATED = "claude-3-5-haiku"  # an Anthropic deployment: through chat
MODELS = (NATIVE, TRANSLATED)
OPENING = ("response.created", "response.in_progress")
PROMPT = "what is the weather in Paris [sim-chunks:4]"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather for a city",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


@pytest.fixture
def cached(response_bucket: ResponseBucket, app: Any) -> Any:
    """The cached app, with the response store's bucket too (store: true is the default)."""
    del response_bucket
    return app


def body(model: str, text: str = PROMPT, **extra: Any) -> dict[str, Any]:
    return {"model": model, "input": text, **extra}


async def create(client: httpx.AsyncClient, data: dict[str, Any], key: str = MASTER_KEY) -> Any:
    return await client.post("/v1/responses", json=data, headers=bearer(key))


def events_of(response: httpx.Response) -> list[dict[str, Any]]:
    """The stream's events: named SSE events, each valid, numbered from 0."""
    from gateway.providers.sse import SSEDecoder

    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = []
    for event in SSEDecoder().feed(response.content):
        data = json.loads(event.data)
        assert event.name == data["type"]
        validate("ResponseStreamEvent", data)
        events.append(data)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


def answer_of(response: httpx.Response, *, stream: bool) -> dict[str, Any]:
    """The Response a request got: its body, or the one its stream's last event carries
    (checked against the items the stream opened, filled and closed)."""
    if not stream:
        assert response.status_code == 200, response.text
        whole: dict[str, Any] = response.json()
        validate("Response", whole)
        return whole
    events = events_of(response)
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert kinds.count("response.completed") == 1
    final: dict[str, Any] = events[-1]["response"]
    validate("Response", final)
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done == final["output"]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == text_of(final)
    assert {e["response"]["id"] for e in events if "response" in e} == {final["id"]}
    return final


def text_of(response: dict[str, Any]) -> str:
    return "".join(
        part.get("text", "")
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
    )


def without_ids(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The output as said, whoever's response it is."""
    return [{k: v for k, v in item.items() if k != "id"} for item in response["output"]]


def item_ids(response: dict[str, Any]) -> set[str]:
    return {item["id"] for item in response["output"]}


# ---- hits ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(
    ("first_stream", "second_stream"), [(False, False), (True, True), (True, False), (False, True)]
)
async def test_a_repeat_is_a_new_response_from_the_cache(
    cached: Any, gateway_env: SimulatorApp, model: str, first_stream: bool, second_stream: bool
) -> None:
    async with asgi_client(cached) as client:
        first = await create(client, body(model, stream=first_stream, tools=[WEATHER]))
        await settle(cached)
        second = await create(client, body(model, stream=second_stream, tools=[WEATHER]))
    assert (first.headers["x-gateway-cache"], second.headers["x-gateway-cache"]) == ("miss", "hit")
    assert second.headers["x-gateway-cache-key"] == first.headers["x-gateway-cache-key"]
    assert second.headers["x-gateway-cost-usd"] == "0.000000"
    assert len(gateway_env.requests) == 1
    one = answer_of(first, stream=first_stream)
    two = answer_of(second, stream=second_stream)
    assert without_ids(two) == without_ids(one)
    assert any(item["type"] == "function_call" for item in two["output"])
    assert two["usage"] == one["usage"]
    assert two["id"] == f"resp_{second.headers['x-request-id']}" != one["id"]
    assert two["model"] == model
    assert (two["status"], two["store"]) == ("completed", True)
    assert [tool["name"] for tool in two["tools"]] == ["get_weather"]
    assert not item_ids(two) & item_ids(one)  # the hit's items are its own
    assert len(item_ids(two)) == len(two["output"])


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("stream", [False, True])
async def test_a_hit_is_stored_and_continued_like_any_response(
    cached: Any, gateway_env: SimulatorApp, model: str, stream: bool
) -> None:
    async with asgi_client(cached) as client:
        first = answer_of(await create(client, body(model)), stream=False)
        await settle(cached)
        hit = await create(client, body(model, stream=stream))
        assert hit.headers["x-gateway-cache"] == "hit"
        assert "x-gateway-response-stored" not in hit.headers
        served = answer_of(hit, stream=stream)
        stored = await client.get(f"/v1/responses/{served['id']}", headers=AUTH)
        listed = await client.get(f"/v1/responses/{served['id']}/input_items", headers=AUTH)
        gateway_env.reset()
        follow = await create(
            client, body(model, "And tomorrow?", previous_response_id=served["id"])
        )
    assert stored.status_code == 200, stored.text
    assert stored.json() == served
    assert listed.status_code == 200, listed.text
    assert [item["content"] for item in listed.json()["data"]] == [
        [{"type": "input_text", "text": PROMPT}]
    ]
    later = answer_of(follow, stream=False)
    assert later["previous_response_id"] == served["id"]
    assert follow.headers["x-gateway-cache"] == "miss"
    (sent,) = gateway_env.requests  # the follow-up replays the hit's conversation
    wire = json.dumps(sent["json"])
    assert PROMPT in wire
    assert text_of(first) in wire
    assert "And tomorrow?" in wire


@pytest.mark.parametrize("model", MODELS)
async def test_the_key_is_the_conversation_not_the_previous_response_id(
    cached: Any, gateway_env: SimulatorApp, model: str
) -> None:
    async with asgi_client(cached) as client:
        one = answer_of(await create(client, body(model)), stream=False)
        await settle(cached)
        two = answer_of(await create(client, body(model)), stream=False)  # a hit
        after_one = await create(
            client, body(model, "And tomorrow?", previous_response_id=one["id"])
        )
        await settle(cached)
        after_two = await create(
            client, body(model, "And tomorrow?", previous_response_id=two["id"])
        )
        elsewhere = await create(
            client, body(model, "And the day after?", previous_response_id=two["id"])
        )
    assert one["id"] != two["id"]
    assert after_one.headers["x-gateway-cache"] == "miss"
    assert after_two.headers["x-gateway-cache"] == "hit"
    assert elsewhere.headers["x-gateway-cache"] == "miss"
    assert len(gateway_env.requests) == 3
    hit = answer_of(after_two, stream=False)
    assert hit["previous_response_id"] == two["id"]  # the request's own, not the entry's
    assert without_ids(hit) == without_ids(answer_of(after_one, stream=False))


async def test_the_key_is_the_conversation_with_encrypted_reasoning_too(
    cached: Any, gateway_env: SimulatorApp
) -> None:
    extra: dict[str, Any] = {
        "reasoning": {"effort": "low"},
        "include": ["reasoning.encrypted_content"],
    }
    async with asgi_client(cached) as client:
        one = answer_of(await create(client, body(NATIVE, **extra)), stream=False)
        await settle(cached)
        two = answer_of(await create(client, body(NATIVE, **extra)), stream=False)  # a hit
        await create(client, body(NATIVE, "And tomorrow?", previous_response_id=one["id"], **extra))
        await settle(cached)
        after_two = await create(
            client, body(NATIVE, "And tomorrow?", previous_response_id=two["id"], **extra)
        )
        # A new question after the hit goes upstream, which checks the replayed seal.
        onward = await create(
            client, body(NATIVE, "And next week?", previous_response_id=two["id"], **extra)
        )
    (reasoning,) = [item for item in two["output"] if item["type"] == "reasoning"]
    (original,) = [item for item in one["output"] if item["type"] == "reasoning"]
    assert reasoning["encrypted_content"]
    # OpenAI binds encrypted reasoning to the id it issued: a hit keeps that id.
    assert reasoning["id"] == original["id"]
    assert two["output"][-1]["id"] != one["output"][-1]["id"]  # the message is renumbered
    assert after_two.headers["x-gateway-cache"] == "hit"
    assert onward.status_code == 200
    assert onward.headers["x-gateway-cache"] == "miss"
    assert reasoning in gateway_env.requests[-1]["json"]["input"]  # replayed whole
    assert len(gateway_env.requests) == 3


@pytest.mark.parametrize("model", MODELS)
async def test_store_and_metadata_do_not_change_the_key(
    cached: Any, gateway_env: SimulatorApp, model: str
) -> None:
    async with asgi_client(cached) as client:
        first = await create(client, body(model))
        await settle(cached)
        second = await create(client, body(model, store=False, metadata={"run": "eval-7"}))
        third = await create(client, body(model, metadata={"run": "eval-8"}))
        hidden = answer_of(second, stream=False)
        kept = answer_of(third, stream=False)
        not_stored = await client.get(f"/v1/responses/{hidden['id']}", headers=AUTH)
        stored = await client.get(f"/v1/responses/{kept['id']}", headers=AUTH)
        other = await create(client, body(model, instructions="Answer in French."))
    assert [r.headers["x-gateway-cache"] for r in (first, second, third)] == ["miss", "hit", "hit"]
    assert len({r.headers["x-gateway-cache-key"] for r in (first, second, third)}) == 1
    # The hit echoes the request it answers.
    assert (hidden["store"], hidden["metadata"]) == (False, {"run": "eval-7"})
    assert (kept["store"], kept["metadata"]) == (True, {"run": "eval-8"})
    assert not_stored.status_code == 404
    assert stored.status_code == 200
    assert stored.json() == kept
    assert other.headers["x-gateway-cache"] == "miss"  # instructions are the answer's
    assert len(gateway_env.requests) == 2


async def test_responses_chat_and_messages_never_share_an_entry(
    cached: Any, gateway_env: SimulatorApp
) -> None:
    async with asgi_client(cached) as client:
        chat = await client.post(
            "/v1/chat/completions",
            json={"model": NATIVE, "messages": [{"role": "user", "content": "hi"}]},
            headers=AUTH,
        )
        messages = await client.post(
            "/v1/messages",
            json={
                "model": NATIVE,
                "max_tokens": 256,
                "messages": [{"role": "user", "content": "hi"}],
            },
            headers=AUTH,
        )
        await settle(cached)
        responses = await create(client, body(NATIVE, "hi"))
    assert responses.headers["x-gateway-cache"] == "miss"
    keys = {r.headers["x-gateway-cache-key"] for r in (chat, messages, responses)}
    assert len(keys) == 3
    assert len(gateway_env.requests) == 3


# ---- tenants -----------------------------------------------------------------------------


async def test_tenants_never_share_entries(
    cached: Any, gateway_env: SimulatorApp, gateway_table: GatewayTable
) -> None:
    make_team(gateway_table, "red")
    make_team(gateway_table, "blue")
    red, red_too = make_key(gateway_table, team_id="red"), make_key(gateway_table, team_id="red")
    blue = make_key(gateway_table, team_id="blue")
    alone = make_key(gateway_table)
    got = {}
    async with asgi_client(cached) as client:
        for name, key in (("red", red), ("red_too", red_too), ("blue", blue), ("alone", alone)):
            got[name] = await create(client, body(NATIVE), key)
            await settle(cached)
        got["master"] = await create(client, body(NATIVE))
        hit = answer_of(got["red_too"], stream=False)
        theirs = await client.get(f"/v1/responses/{hit['id']}", headers=bearer(blue))
        ours = await client.get(f"/v1/responses/{hit['id']}", headers=bearer(red))
    # red's entry serves red's other key; blue, a key without a team and the master key
    # each have their own namespace, as in the response store.
    assert {name: r.headers["x-gateway-cache"] for name, r in got.items()} == {
        "red": "miss",
        "red_too": "hit",
        "blue": "miss",
        "alone": "miss",
        "master": "miss",
    }
    assert len(gateway_env.requests) == 4
    assert theirs.status_code == 404
    assert ours.status_code == 200


async def test_no_cache_no_store_and_namespaces(cached: Any, gateway_env: SimulatorApp) -> None:
    async with asgi_client(cached) as client:
        await create(client, body(TRANSLATED, cache={"no-store": True}))
        await settle(cached)
        stored_nothing = await create(client, body(TRANSLATED))
        await settle(cached)
        bypass = await create(client, body(TRANSLATED, cache={"no-cache": True}))
        header_bypass = await client.post(
            "/v1/responses",
            json=body(TRANSLATED),
            headers={**AUTH, "cache-control": "no-cache"},
        )
        hit = await create(client, body(TRANSLATED))
        elsewhere = await create(client, body(TRANSLATED, cache={"namespace": "eval"}))
    assert stored_nothing.headers["x-gateway-cache"] == "miss"
    assert bypass.headers["x-gateway-cache"] == "bypass"
    assert header_bypass.headers["x-gateway-cache"] == "bypass"
    assert hit.headers["x-gateway-cache"] == "hit"
    assert elsewhere.headers["x-gateway-cache"] == "miss"
    assert len(gateway_env.requests) == 5
    assert all("cache" not in r["json"] for r in gateway_env.requests)  # never sent upstream


# ---- known bugs ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
async def test_a_streamed_hit_is_valid_events_as_written(cached: Any, model: str) -> None:
    async with asgi_client(cached) as client:
        await create(client, body(model))
        await settle(cached)
        hit = await create(client, body(model, stream=True))
    assert hit.headers["x-gateway-cache"] == "hit"
    events_of(hit)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", MODELS)
async def test_a_completed_hit_says_when_it_completed(
    cached: Any, model: str, stream: bool
) -> None:
    async with asgi_client(cached) as client:
        first = answer_of(await create(client, body(model)), stream=False)
        await settle(cached)
        hit = answer_of(await create(client, body(model, stream=stream)), stream=stream)
    assert first["completed_at"] is not None
    assert hit["status"] == "completed"
    assert hit["completed_at"] is not None
    assert hit["completed_at"] >= hit["created_at"]

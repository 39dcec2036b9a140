"""POST /v1/responses through the whole app, on every kind of path, with stored state.

Four deployments, priced by model_info and served by the provider simulator:
`gpt-native` (OpenAI's Responses API, relayed natively), `claude-translated`
(Anthropic, through the chat translation), `bedrock-translated` (Bedrock Converse,
likewise) and `vllm-translated` (an OpenAI-compatible vendor). Every Response and
event is validated against OpenAI's published schema (tests/openapi.py). Spend is
read back from the ledger the spend consumer writes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest

from conftest import write_config
from keys import asgi_client, bearer, make_key, make_team
from openapi import validate
from spend_helpers import drain, ledger

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from conftest import GatewayTable, ResponseBucket
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

NATIVE = "gpt-native"
CLAUDE = "claude-translated"
BEDROCK = "bedrock-translated"
VLLM = "vllm-translated"
PATHS = (NATIVE, CLAUDE, BEDROCK, VLLM)
TRANSLATED = (CLAUDE, BEDROCK, VLLM)

PRICE_IN, PRICE_OUT = 2, 10  # micro-dollars per token
MODEL_INFO = {"input_cost_per_token": PRICE_IN / 1e6, "output_cost_per_token": PRICE_OUT / 1e6}
PROMPT = "one two three four five six seven"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


@pytest.fixture
def env(
    spend_env: GatewayTable,
    gateway_env: SimulatorApp,
    response_bucket: ResponseBucket,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> GatewayTable:
    from conftest import ANTHROPIC_KEY, OPENAI_KEY
    from gateway.http import dependencies

    sim = gateway_env.state.url
    path = write_config(tmp_path / "responses.yaml", sim)
    config = json.loads(path.read_text())
    deployments = {
        NATIVE: {"model": "openai/gpt-4o-mini", "api_base": f"{sim}/v1", "api_key": OPENAI_KEY},
        CLAUDE: {
            "model": "anthropic/claude-3-5-haiku-20241022",
            "api_base": sim,
            "api_key": ANTHROPIC_KEY,
        },
        BEDROCK: {
            "model": "bedrock/us.amazon.nova-lite-v1:0",
            "api_base": sim,
            "aws_region_name": "us-east-1",
        },
        VLLM: {"model": "hosted_vllm/gpt-4o-mini", "api_base": f"{sim}/v1", "api_key": OPENAI_KEY},
    }
    config["model_list"] += [
        {"model_name": name, "litellm_params": params, "model_info": MODEL_INFO}
        for name, params in deployments.items()
    ]
    path.write_text(json.dumps(config))
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    dependencies.reset()
    return spend_env


async def call(method: str, path: str, key: str, body: Any = None) -> httpx.Response:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:  # a new app: another Lambda instance
        return await client.request(method, path, json=body, headers=bearer(key))


async def create(key: str, model: str, **fields: Any) -> httpx.Response:
    body = {"model": model, "input": PROMPT, **fields}
    return await call("POST", "/v1/responses", key, body)


def events_of(response: httpx.Response) -> list[dict[str, Any]]:
    from gateway.providers.sse import SSEDecoder

    assert response.status_code == 200, response.text
    events = []
    for event in SSEDecoder().feed(response.content):
        data = json.loads(event.data)
        assert event.name == data["type"]
        validate("ResponseStreamEvent", data)
        events.append(data)
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    return events


def answer(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    validate("Response", body)
    return body


def text_of(response: dict[str, Any]) -> str:
    return "".join(
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )


def assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    validate("ErrorResponse", body)
    assert response.headers["x-request-id"]
    return body["error"]  # type: ignore[no-any-return]


# ---- answers, plain and streamed ---------------------------------------------------------


@pytest.mark.parametrize("model", PATHS)
async def test_plain_answer_is_a_response_and_charged_exactly(
    env: GatewayTable, model: str
) -> None:
    key = make_key(env)
    response = await create(key, model, instructions="Be brief.")
    body = answer(response)
    assert body["id"] == f"resp_{response.headers['x-request-id']}"
    assert body["model"] == model
    assert body["status"] == "completed"
    assert body["instructions"] == "Be brief."
    assert body["store"] is True
    assert text_of(body).startswith("Echo: ")
    usage = body["usage"]
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0
    cost = usage["input_tokens"] * PRICE_IN + usage["output_tokens"] * PRICE_OUT
    assert response.headers["x-gateway-cost-usd"]
    assert await drain(env) == 1
    (item,) = ledger(env)
    assert item["prompt_tokens"] == usage["input_tokens"]
    assert item["completion_tokens"] == usage["output_tokens"]
    assert item["spend_micros"] == cost


@pytest.mark.parametrize("model", PATHS)
async def test_stream_has_the_semantic_events_and_folds_to_the_answer(
    env: GatewayTable, model: str
) -> None:
    key = make_key(env)
    events = events_of(await create(key, model, stream=True, input=f"{PROMPT} [sim-chunks:5]"))
    kinds = [event["type"] for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    for kind in (
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ):
        assert kind in kinds, kind
    assert kinds.count("response.output_text.delta") >= 2
    final = events[-1]["response"]
    deltas = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    assert deltas == text_of(final)
    done_items = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done_items == final["output"]
    plain = answer(await create(key, model, input=f"{PROMPT} [sim-chunks:5]"))
    assert text_of(plain) == text_of(final)
    assert plain["usage"] == final["usage"]
    assert await drain(env) == 2
    streamed = next(i for i in ledger(env) if i["stream"])
    usage = final["usage"]
    assert streamed["prompt_tokens"] == usage["input_tokens"]
    assert streamed["completion_tokens"] == usage["output_tokens"]
    assert streamed["spend_micros"] == (
        usage["input_tokens"] * PRICE_IN + usage["output_tokens"] * PRICE_OUT
    )


@pytest.mark.parametrize("model", PATHS)
async def test_function_calling_round_trip(env: GatewayTable, model: str) -> None:
    key = make_key(env)
    first = answer(await create(key, model, input="What is the weather?", tools=[WEATHER_TOOL]))
    (call_item,) = [item for item in first["output"] if item["type"] == "function_call"]
    assert call_item["name"] == "get_weather"
    assert json.loads(call_item["arguments"]) == {"location": "Paris"}
    output = {
        "type": "function_call_output",
        "call_id": call_item["call_id"],
        "output": '{"temperature": 21}',
    }
    second = answer(
        await create(
            key, model, input=[output], previous_response_id=first["id"], tools=[WEATHER_TOOL]
        )
    )
    assert second["previous_response_id"] == first["id"]
    assert text_of(second)


@pytest.mark.parametrize("model", PATHS)
async def test_streamed_function_call(env: GatewayTable, model: str) -> None:
    key = make_key(env)
    events = events_of(
        await create(key, model, input="What is the weather?", tools=[WEATHER_TOOL], stream=True)
    )
    deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
    (done,) = [e for e in events if e["type"] == "response.function_call_arguments.done"]
    assert "".join(e["delta"] for e in deltas) == done["arguments"]
    assert json.loads(done["arguments"]) == {"location": "Paris"}


# ---- state -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", PATHS)
async def test_two_turns_across_two_instances(
    env: GatewayTable, gateway_env: SimulatorApp, model: str
) -> None:
    key = make_key(env)
    first = answer(await create(key, model, input="My name is Ada."))
    gateway_env.reset()
    second = answer(
        await create(key, model, input="What is my name?", previous_response_id=first["id"])
    )
    assert second["previous_response_id"] == first["id"]
    (sent,) = gateway_env.requests
    wire = json.dumps(sent["json"])
    assert "My name is Ada." in wire
    assert text_of(first) in wire
    if model == NATIVE:
        assert sent["json"]["store"] is False
        assert "previous_response_id" not in sent["json"]


async def test_retrieve_delete_and_input_items(env: GatewayTable) -> None:
    key = make_key(env)
    created = answer(
        await create(
            key,
            NATIVE,
            input=[
                {"role": "user", "content": "first"},
                {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
            ],
        )
    )
    path = f"/v1/responses/{created['id']}"
    got = answer(await call("GET", path, key))
    assert got == created
    items = (await call("GET", f"{path}/input_items", key)).json()
    validate("ResponseItemList", items)
    texts = [item["content"][0]["text"] for item in items["data"]]
    assert texts == ["second", "first"]  # newest first by default
    page = (await call("GET", f"{path}/input_items?order=asc&limit=1", key)).json()
    assert [item["content"][0]["text"] for item in page["data"]] == ["first"]
    assert page["has_more"] is True
    rest = (await call("GET", f"{path}/input_items?order=asc&after={page['last_id']}", key)).json()
    assert [item["content"][0]["text"] for item in rest["data"]] == ["second"]
    assert rest["has_more"] is False
    deleted = await call("DELETE", path, key)
    assert deleted.json() == {"id": created["id"], "object": "response.deleted", "deleted": True}
    assert_openai_error(await call("GET", path, key), 404)
    assert_openai_error(await call("DELETE", path, key), 404)


async def test_another_team_gets_404_and_changes_nothing(
    env: GatewayTable, gateway_env: SimulatorApp
) -> None:
    make_team(env, "team-a")
    make_team(env, "team-b")
    owner = make_key(env, team_id="team-a")
    teammate = make_key(env, team_id="team-a")
    stranger = make_key(env, team_id="team-b")
    created = answer(await create(owner, CLAUDE))
    path = f"/v1/responses/{created['id']}"
    assert answer(await call("GET", path, teammate))["id"] == created["id"]
    gateway_env.reset()
    for method, suffix in (("GET", ""), ("GET", "/input_items"), ("DELETE", "")):
        error = assert_openai_error(await call(method, path + suffix, stranger), 404)
        assert created["id"] in error["message"]
    refused = await create(stranger, CLAUDE, previous_response_id=created["id"])
    assert assert_openai_error(refused, 404)["param"] == "previous_response_id"
    assert gateway_env.requests == []  # nothing reached a provider
    assert answer(await call("GET", path, owner))["id"] == created["id"]  # still there


async def test_store_false_keeps_nothing(
    env: GatewayTable, response_bucket: ResponseBucket
) -> None:
    key = make_key(env)
    created = answer(await create(key, VLLM, store=False))
    assert created["store"] is False
    assert response_bucket.object_keys() == []
    assert_openai_error(await call("GET", f"/v1/responses/{created['id']}", key), 404)


async def test_a_stored_stream_is_found_by_the_next_turn(env: GatewayTable) -> None:
    key = make_key(env)
    events = events_of(await create(key, NATIVE, stream=True))
    final = events[-1]["response"]
    got = answer(await call("GET", f"/v1/responses/{final['id']}", key))
    assert got["output"] == final["output"]
    assert got["status"] == "completed"


async def test_malformed_and_unknown_ids_are_404(env: GatewayTable) -> None:
    key = make_key(env)
    for response_id in ("resp_nope", "not-a-response-id", "resp_" + "x" * 300):
        assert_openai_error(await call("GET", f"/v1/responses/{response_id}", key), 404)


# ---- refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize("model", TRANSLATED)
async def test_hosted_tools_are_a_400_on_translated_providers(
    env: GatewayTable, gateway_env: SimulatorApp, model: str
) -> None:
    key = make_key(env)
    gateway_env.reset()
    refused = await create(key, model, tools=[{"type": "web_search"}])
    error = assert_openai_error(refused, 400)
    assert "web_search" in error["message"]
    assert error["param"].startswith("tools")
    assert gateway_env.requests == []
    assert await drain(env) == 1  # the refusal is logged, and charged nothing
    assert ledger(env)[0]["spend_micros"] == 0


async def test_bad_input_is_a_clear_400(env: GatewayTable) -> None:
    key = make_key(env)
    error = assert_openai_error(await call("POST", "/v1/responses", key, {"model": NATIVE}), 400)
    assert error["param"] == "input"
    error = assert_openai_error(await create(key, NATIVE, background=True), 400)
    assert error["param"] == "background"


async def test_budget_refusal_is_openai_shaped(env: GatewayTable) -> None:
    key = make_key(env, max_budget_micros=1, budget_duration="30d")
    error = assert_openai_error(await create(key, CLAUDE, max_output_tokens=64), 429)
    assert error["type"] == "budget_exceeded"


# ---- faults ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", [NATIVE, VLLM])
async def test_a_stream_that_fails_after_its_first_event_ends_failed(
    env: GatewayTable, model: str
) -> None:
    key = make_key(env)
    response = await create(key, model, stream=True, input=f"{PROMPT} [sim-fault:truncate]")
    events = events_of(response)
    kinds = [event["type"] for event in events]
    assert kinds[-2:] == ["error", "response.failed"]
    assert "response.completed" not in kinds
    assert events[-1]["response"]["status"] == "failed"
    assert_openai_error(
        await call("GET", f"/v1/responses/resp_{response.headers['x-request-id']}", key), 404
    )
    assert await drain(env) == 1
    (item,) = ledger(env)
    assert item["completion_tokens"] > 0
    assert item["usage_estimated"]


# ---- input tokens ------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "estimated"), [(NATIVE, False), (CLAUDE, False), (VLLM, True)])
async def test_input_tokens(env: GatewayTable, model: str, estimated: bool) -> None:
    key = make_key(env)
    response = await call(
        "POST", "/v1/responses/input_tokens", key, {"model": model, "input": PROMPT}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    validate("TokenCountsResource", body)
    assert body["input_tokens"] > 0
    assert (response.headers.get("x-gateway-token-count") == "estimated") is estimated
    if model == NATIVE:
        created = answer(await create(key, model))
        assert body["input_tokens"] == created["usage"]["input_tokens"]

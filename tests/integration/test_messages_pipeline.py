"""POST /v1/messages through the whole app: spend, errors and keys, on every kind of path.

Three deployments, each priced by its model_info and served by the provider simulator:
`claude-native` (Anthropic's API, relayed natively), `bedrock-native` (Bedrock's
InvokeModel, relayed natively) and `gpt-translated` (an OpenAI-compatible model, reached
through the chat translation). Spend is read back from the ledger the spend consumer
writes (tests/spend_helpers.py); errors are checked against Anthropic's documented shape
(https://docs.anthropic.com/en/api/errors) and the anthropic SDK's ErrorResponse type.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import RawMessageStreamEvent
from anthropic.types.shared import ErrorResponse
from pydantic import TypeAdapter

from conftest import write_config
from keys import asgi_client, bearer, make_key
from sdk_types import sdk_validate
from spend_helpers import drain, ledger

if TYPE_CHECKING:
    from pathlib import Path

    import httpx

    from conftest import GatewayTable
    from gateway.local.simulator import SimulatorApp

pytestmark = pytest.mark.anyio

NATIVE = "claude-native"
BEDROCK = "bedrock-native"
TRANSLATED = "gpt-translated"
PATHS = (NATIVE, BEDROCK, TRANSLATED)
CLAUDE_PATHS = (NATIVE, BEDROCK)

# Micro-dollars per token: fresh input, cache read, cache write, output.
PRICE_IN, PRICE_READ, PRICE_WRITE, PRICE_OUT = 2, 1, 3, 10
MODEL_INFO = {
    "input_cost_per_token": PRICE_IN / 1e6,
    "cache_read_input_token_cost": PRICE_READ / 1e6,
    "cache_creation_input_token_cost": PRICE_WRITE / 1e6,
    "output_cost_per_token": PRICE_OUT / 1e6,
}
MAX_TOKENS = 64
PROMPT = "one two three four five six seven"
EVENTS: TypeAdapter[RawMessageStreamEvent] = TypeAdapter(RawMessageStreamEvent)


@pytest.fixture
def env(
    spend_env: GatewayTable,
    gateway_env: SimulatorApp,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> GatewayTable:
    """The suite's table and spend queue, with the three priced deployments added."""
    from conftest import ANTHROPIC_KEY, OPENAI_KEY
    from gateway.http import dependencies

    sim = gateway_env.state.url
    path = write_config(tmp_path / "messages.yaml", sim)
    config = json.loads(path.read_text())
    config["model_list"] += [
        {
            "model_name": NATIVE,
            "litellm_params": {
                "model": "anthropic/claude-3-5-haiku-20241022",
                "api_base": sim,
                "api_key": ANTHROPIC_KEY,
            },
            "model_info": MODEL_INFO,
        },
        {
            "model_name": BEDROCK,
            "litellm_params": {
                "model": "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0",
                "api_base": sim,
                "aws_region_name": "us-east-1",
            },
            "model_info": MODEL_INFO,
        },
        {
            "model_name": TRANSLATED,
            "litellm_params": {
                "model": "openai/gpt-4o-mini",
                "api_base": f"{sim}/v1",
                "api_key": OPENAI_KEY,
            },
            "model_info": MODEL_INFO,
        },
    ]
    path.write_text(json.dumps(config))
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    dependencies.reset()
    return spend_env


def body_for(model: str, text: str = PROMPT, **extra: Any) -> dict[str, Any]:
    return {
        "model": model,
        "max_tokens": MAX_TOKENS,
        "messages": [{"role": "user", "content": text}],
        **extra,
    }


def api_key(key: str) -> dict[str, str]:
    return {"x-api-key": key, "anthropic-version": "2023-06-01"}


async def post(
    body: Any, headers: dict[str, str], path: str = "/v1/messages", **kwargs: Any
) -> httpx.Response:
    from gateway.http.app import create_app

    async with asgi_client(create_app()) as client:
        return await client.post(path, json=body, headers=headers, **kwargs)


def sse(response: httpx.Response) -> list[dict[str, Any]]:
    """The stream's events; each SSE event's name is its data's type."""
    from gateway.providers.sse import SSEDecoder

    events = []
    for event in SSEDecoder().feed(response.content):
        data = json.loads(event.data)
        assert event.name == data["type"]
        events.append(data)
    return events


def streamed_usage(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The usage a client reads from a stream, as the anthropic SDK accumulates it
    (message_start's counts, then message_delta's cumulative ones)."""
    snapshot = None
    buffers: dict[int, bytes] = {}
    for event in events:
        if event["type"] not in ("ping", "error"):
            parsed = EVENTS.validate_python(event)
            snapshot = accumulate_event(event=parsed, current_snapshot=snapshot, json_bufs=buffers)
    assert snapshot is not None
    return snapshot.usage.to_dict()


def charged(usage: dict[str, Any]) -> dict[str, int]:
    """The spend event a response with this Anthropic usage must produce."""
    fresh = usage["input_tokens"]
    read = usage.get("cache_read_input_tokens") or 0
    write = usage.get("cache_creation_input_tokens") or 0
    out = usage["output_tokens"]
    cost = fresh * PRICE_IN + read * PRICE_READ + write * PRICE_WRITE + out * PRICE_OUT
    return {
        "prompt_tokens": fresh + read + write,
        "completion_tokens": out,
        "cached_tokens": read,
        "cache_write_tokens": write,
        "spend_micros": cost,
    }


def spent(item: dict[str, Any]) -> dict[str, int]:
    names = ("prompt_tokens", "completion_tokens", "cached_tokens", "cache_write_tokens")
    return {name: item[name] for name in (*names, "spend_micros")}


def assert_anthropic_error(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    """Anthropic's error body and status, never OpenAI's, with the request id twice."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"type", "error", "request_id"}, body
    assert body["type"] == "error"
    assert set(body["error"]) == {"type", "message"}, body
    assert body["error"]["type"] == kind
    assert body["request_id"] == response.headers["request-id"] == response.headers["x-request-id"]
    if kind != "request_too_large":  # documented by Anthropic, not typed by the SDK
        sdk_validate(ErrorResponse, body)
    return body


async def by_request(env: GatewayTable, *responses: httpx.Response) -> list[dict[str, Any]]:
    """One spend event per request, in the order of the responses."""
    assert await drain(env) == len(responses)
    items = {item["request_id"]: item for item in ledger(env)}
    ids = [response.headers["x-request-id"] for response in responses]
    assert sorted(items) == sorted(ids)
    return [items[rid] for rid in ids]


# ---- spend -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", PATHS)
async def test_answers_and_streams_are_charged_their_usage(env: GatewayTable, model: str) -> None:
    key = make_key(env)
    answer = await post(body_for(model), api_key(key))
    stream = await post(body_for(model, stream=True), api_key(key))
    assert answer.status_code == stream.status_code == 200
    assert answer.headers["request-id"] == answer.headers["x-request-id"]
    assert stream.headers["request-id"] == stream.headers["x-request-id"]
    assert stream.headers["content-type"].startswith("text/event-stream")
    answered_usage = answer.json()["usage"]
    events = sse(stream)
    assert events[-1]["type"] == "message_stop"
    streamed = streamed_usage(events)
    assert streamed["output_tokens"] > 1  # message_delta's count, not message_start's
    first, second = await by_request(env, answer, stream)
    for item, usage, streaming in ((first, answered_usage, False), (second, streamed, True)):
        assert spent(item) == charged(usage)
        assert (item["status"], item["status_code"]) == ("success", 200)
        assert "error_code" not in item
        assert item["usage_estimated"] is False
        assert item["stream"] is streaming
        assert item["model_group"] == item["requested_model"] == model
    assert answer.headers["x-gateway-cost-usd"] == f"{first['spend_micros'] / 1e6:.6f}"


@pytest.mark.parametrize("model", PATHS)
async def test_a_stream_the_provider_cuts_is_charged_what_it_consumed(
    env: GatewayTable, model: str
) -> None:
    key = make_key(env)
    response = await post(
        body_for(model, f"{PROMPT} [sim-fault:truncate]", stream=True), api_key(key)
    )
    assert response.status_code == 200
    events = sse(response)
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "api_error"
    assert "message_stop" not in {event["type"] for event in events}
    (item,) = await by_request(env, response)
    assert (item["status"], item["status_code"], item["error_code"]) == (
        "failure",
        502,
        "upstream_error",
    )
    assert item["usage_estimated"] is True
    relayed = [e for e in events if e["type"] == "content_block_delta"]
    if model in CLAUDE_PATHS:  # a token per relayed delta; framing events count none
        assert item["completion_tokens"] == len(relayed) >= 1
    else:
        assert 1 <= item["completion_tokens"] <= MAX_TOKENS
    if model in CLAUDE_PATHS:  # message_start gave the provider's own input count
        start = events[0]["message"]["usage"]
        assert item["prompt_tokens"] == start["input_tokens"] > 0
    else:
        assert item["prompt_tokens"] > 0  # the gateway's estimate of the prompt
    fresh = item["prompt_tokens"] - item["cached_tokens"] - item["cache_write_tokens"]
    assert item["spend_micros"] == fresh * PRICE_IN + item["completion_tokens"] * PRICE_OUT


@pytest.mark.parametrize("model", CLAUDE_PATHS)
async def test_cache_reads_and_writes_are_charged_at_their_prices(
    env: GatewayTable, model: str
) -> None:
    key = make_key(env)
    system = [
        {"type": "text", "text": "You analyze literary works. " * 40},
        {
            "type": "text",
            "text": "The full text of the novel. " * 200,
            "cache_control": {"type": "ephemeral"},
        },
    ]
    body = body_for(model, system=system)
    written = await post(body, api_key(key))
    read = await post({**body, "stream": True}, api_key(key))
    assert written.status_code == read.status_code == 200
    write_usage = written.json()["usage"]
    read_usage = streamed_usage(sse(read))
    assert write_usage["cache_creation_input_tokens"] > 0
    assert read_usage["cache_read_input_tokens"] == write_usage["cache_creation_input_tokens"]
    first, second = await by_request(env, written, read)
    assert spent(first) == charged(write_usage)
    assert spent(second) == charged(read_usage)
    assert second["cached_tokens"] > 0


# ---- errors in Anthropic's shape ------------------------------------------------------------

ENDPOINTS = ("/v1/messages", "/v1/messages/count_tokens")


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize(
    "headers",
    [{}, {"x-api-key": "sk-wrong"}, {"authorization": "Bearer sk-wrong"}],
    ids=["no_key", "wrong_x_api_key", "wrong_bearer"],
)
async def test_unauthenticated(env: GatewayTable, path: str, headers: dict[str, str]) -> None:
    response = await post(body_for(NATIVE), headers, path)
    assert_anthropic_error(response, 401, "authentication_error")


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("model", PATHS)
async def test_a_key_without_the_model(env: GatewayTable, path: str, model: str) -> None:
    others = tuple(name for name in PATHS if name != model)
    key = make_key(env, models=others)
    response = await post(body_for(model), api_key(key), path)
    assert_anthropic_error(response, 403, "permission_error")


@pytest.mark.parametrize("path", ENDPOINTS)
async def test_an_unknown_model(env: GatewayTable, path: str) -> None:
    from conftest import MASTER_KEY

    response = await post(body_for("no-such-model"), api_key(MASTER_KEY), path)
    assert_anthropic_error(response, 404, "not_found_error")


@pytest.mark.parametrize("model", PATHS)
@pytest.mark.parametrize(
    "change",
    [
        {"max_tokens": None},
        {"messages": []},
        {"stream": "yes"},
        {"messages": [{"role": "tool", "content": "Hi"}]},
    ],
    ids=["no_max_tokens", "no_messages", "bad_stream", "bad_role"],
)
async def test_invalid_requests(env: GatewayTable, model: str, change: dict[str, Any]) -> None:
    from conftest import MASTER_KEY

    body = {k: v for k, v in (body_for(model) | change).items() if v is not None}
    response = await post(body, api_key(MASTER_KEY))
    assert_anthropic_error(response, 400, "invalid_request_error")
    assert await drain(env) == 0  # refused before admission: no spend event


DOCUMENT = {
    "type": "document",
    "source": {"type": "text", "media_type": "text/plain", "data": "The grass is green."},
}


@pytest.mark.parametrize(
    ("body", "headers", "named"),
    [
        (
            {"messages": [{"role": "user", "content": [DOCUMENT, {"type": "text", "text": "?"}]}]},
            {},
            "'document'",
        ),
        ({}, {"anthropic-beta": "computer-use-2025-01-24"}, "'computer-use-2025-01-24'"),
        (
            {"tools": [{"type": "web_search_20250305", "name": "web_search"}]},
            {},
            "'web_search_20250305'",
        ),
    ],
    ids=["document", "beta", "server_tool"],
)
async def test_what_a_translation_cannot_carry_is_a_400_naming_it(
    env: GatewayTable,
    gateway_env: SimulatorApp,
    body: dict[str, Any],
    headers: dict[str, str],
    named: str,
) -> None:
    from conftest import MASTER_KEY

    response = await post(body_for(TRANSLATED) | body, api_key(MASTER_KEY) | headers)
    error = assert_anthropic_error(response, 400, "invalid_request_error")
    assert named in error["error"]["message"]  # Anthropic's shape has no param: the text names it
    assert not gateway_env.requests  # refused before the provider was called
    # A Claude deployment takes the same request as it is.
    native = await post(body_for(NATIVE) | body, api_key(MASTER_KEY) | headers)
    assert native.status_code == 200, native.text


async def test_a_body_over_the_limit(env: GatewayTable) -> None:
    from conftest import MASTER_KEY
    from gateway.config import MAX_BODY_BYTES

    text = "x" * (MAX_BODY_BYTES + 1)
    response = await post(body_for(NATIVE, text), api_key(MASTER_KEY))
    assert_anthropic_error(response, 413, "request_too_large")


@pytest.mark.parametrize("model", PATHS)
async def test_a_rate_limited_key(env: GatewayTable, model: str) -> None:
    key = make_key(env, rpm_limit=1)
    first = await post(body_for(model), api_key(key))
    second = await post(body_for(model), api_key(key))
    assert first.status_code == 200
    assert_anthropic_error(second, 429, "rate_limit_error")
    assert int(second.headers["retry-after"]) >= 1


@pytest.mark.parametrize("model", PATHS)
async def test_a_budget_refusal(env: GatewayTable, gateway_env: SimulatorApp, model: str) -> None:
    key = make_key(env, max_budget_micros=1)
    response = await post(body_for(model), api_key(key))
    body = assert_anthropic_error(response, 429, "rate_limit_error")
    assert "budget" in body["error"]["message"].lower()
    assert not gateway_env.requests


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("model", PATHS)
@pytest.mark.parametrize(
    ("fault", "status", "kind"), [("529", 529, "overloaded_error"), ("500", 500, "api_error")]
)
async def test_provider_failures(
    env: GatewayTable, model: str, stream: bool, fault: str, status: int, kind: str
) -> None:
    key = make_key(env)
    body = body_for(model, f"{PROMPT} [sim-fault:{fault}]", stream=stream)
    response = await post(body, api_key(key))
    assert_anthropic_error(response, status, kind)
    (item,) = await by_request(env, response)
    assert (item["status"], item["spend_micros"]) == ("failure", 0)


# The simulator's mid-stream failures: Anthropic's overloaded_error event, Bedrock's
# modelStreamErrorException, OpenAI's server_error.
@pytest.mark.parametrize(
    ("model", "kind"),
    [(NATIVE, "overloaded_error"), (BEDROCK, "api_error"), (TRANSLATED, "api_error")],
)
async def test_a_stream_failing_after_its_first_event_ends_in_an_error_event(
    env: GatewayTable, model: str, kind: str
) -> None:
    key = make_key(env)
    body = body_for(model, f"{PROMPT} [sim-fault:error_event]", stream=True)
    response = await post(body, api_key(key))
    assert response.status_code == 200
    assert response.headers["request-id"] == response.headers["x-request-id"]
    events = sse(response)
    assert events[0]["type"] == "message_start"
    *relayed, last = events
    assert last["type"] == "error"
    assert last["error"]["type"] == kind
    assert set(last) == {"type", "error"}
    assert set(last["error"]) == {"type", "message"}
    sdk_validate(ErrorResponse, last)
    assert "message_stop" not in {event["type"] for event in relayed}
    assert b"[DONE]" not in response.content  # nothing of OpenAI's stream either
    (item,) = await by_request(env, response)
    assert item["status"] == "failure"


# ---- credentials -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
@pytest.mark.parametrize("header", ["x-api-key", "authorization"])
async def test_either_header_carries_the_key(env: GatewayTable, path: str, header: str) -> None:
    key = make_key(env)
    headers = {"x-api-key": key} if header == "x-api-key" else bearer(key)
    body = chat_or_messages(path)
    response = await post(body, headers, path)
    assert response.status_code == 200, response.text
    same = await post(body, {"x-api-key": key, **bearer(key)}, path)
    assert same.status_code == 200, same.text


def chat_or_messages(path: str) -> dict[str, Any]:
    body = body_for(NATIVE)
    if path == "/v1/chat/completions":
        return {"model": NATIVE, "messages": body["messages"], "max_tokens": MAX_TOKENS}
    return body


def refused(response: httpx.Response, path: str) -> None:
    if path == "/v1/messages":
        assert_anthropic_error(response, 401, "authentication_error")
    else:  # the chat route keeps OpenAI's shape
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
        assert "request_id" not in response.json()


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
async def test_a_wrong_bearer_key_is_not_retried_with_x_api_key(
    env: GatewayTable, path: str
) -> None:
    key = make_key(env)
    response = await post(chat_or_messages(path), {"x-api-key": key, **bearer("sk-wrong")}, path)
    refused(response, path)


@pytest.mark.parametrize("path", ["/v1/messages", "/v1/chat/completions"])
async def test_with_both_headers_authorization_decides(env: GatewayTable, path: str) -> None:
    """x-api-key may then be a header meant for someone else: never a second credential."""
    first, second = make_key(env), make_key(env)
    response = await post(chat_or_messages(path), {"x-api-key": first, **bearer(second)}, path)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("model", PATHS)
async def test_a_full_messages_body_counts_on_every_path(
    env: GatewayTable, gateway_env: SimulatorApp, model: str
) -> None:
    """count_tokens takes the body a client would send to /v1/messages: what only shapes a
    generation is not the provider's business when counting (Anthropic refuses it)."""
    body = body_for(
        model, temperature=0.5, top_k=5, stop_sequences=["x"], metadata={"user_id": "u"}
    )
    response = await post(body, api_key(make_key(env)), "/v1/messages/count_tokens")
    assert response.status_code == 200, response.text
    assert response.json()["input_tokens"] > 0
    if model == NATIVE:
        sent = gateway_env.requests[-1]["json"]
        assert set(sent) == {"model", "messages"}

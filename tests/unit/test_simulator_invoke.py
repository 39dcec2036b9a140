"""The simulator's Bedrock InvokeModel (Claude) and the two token-counting endpoints.

Checked against the parsers that matter: botocore (bedrock-runtime's model and its
event-stream decoder), the Anthropic SDK's Bedrock client, and the simulator's own
``/v1/messages`` answer for the same prompt, which InvokeModel must repeat event for event.
"""

from __future__ import annotations

import base64
import copy
import json
from typing import TYPE_CHECKING, Any

import anthropic
import botocore.session
import pytest
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from gateway.local.simulator.bedrock_invoke import METRICS_KEY, claude_name
from gateway.local.simulator.scenario import count_tokens

if TYPE_CHECKING:
    import httpx

    from gateway.local.simulator import SimulatorApp

ANTHROPIC_KEY = "sk-ant-sim-0123456789abcdef"
MODEL = "claude-3-5-haiku-20241022"
BEDROCK_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
BEDROCK_PATH = "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0"
ANTHROPIC_HEADERS = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}
BEDROCK_HEADERS = {"authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1"}
VERSION = "bedrock-2023-05-31"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
}
THINKING = {"type": "enabled", "budget_tokens": 1024}
CHUNK_HEADERS = {
    ":event-type": "chunk",
    ":message-type": "event",
    ":content-type": "application/json",
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def app(sim: SimulatorApp) -> SimulatorApp:
    """The suite's simulator (tests/conftest.py), reset around each test."""
    return sim


def botocore_client(endpoint: str) -> Any:
    return botocore.session.get_session().create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),  # no retry
    )


@pytest.fixture
def bedrock(base: str) -> Any:
    return botocore_client(base)


@pytest.fixture
def claude(base: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base, api_key=ANTHROPIC_KEY, max_retries=0)


# --------------------------------------------------------------------------- helpers


def prompt(text: str = "hello world", **extra: Any) -> dict[str, Any]:
    """What both hosts share: a Messages body without ``model`` or ``stream``."""
    return {"max_tokens": 256, "messages": [{"role": "user", "content": text}], **extra}


def invoke_body(text: str = "hello world", **extra: Any) -> dict[str, Any]:
    return {"anthropic_version": VERSION, **prompt(text, **extra)}


def frames(raw: bytes) -> list[tuple[Any, bytes]]:  # (headers dict, payload)
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [(message.headers, message.payload) for message in buffer]


def chunk_events(raw: bytes) -> list[dict[str, Any]]:
    """Every frame a ``chunk`` event; its ``bytes`` decoded to the Anthropic event."""
    events = []
    for headers, payload in frames(raw):
        assert headers == CHUNK_HEADERS
        body = json.loads(payload)
        assert set(body) == {"bytes", "p"}  # the padding every Bedrock stream event carries
        events.append(json.loads(base64.b64decode(body["bytes"])))
    return events


def sse_events(raw: str) -> list[dict[str, Any]]:
    events = []
    for block in raw.split("\n\n"):
        lines = block.strip().split("\n")
        if lines == [""]:
            continue
        name = lines[0].removeprefix("event: ")
        event = json.loads(lines[1].removeprefix("data: "))
        assert event["type"] == name
        events.append(event)
    return events


def without_ids(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events with message and tool ids, ``service_tier`` and Bedrock's metrics removed."""
    out = copy.deepcopy(events)
    for event in out:
        if event["type"] == "message_start":
            event["message"]["id"] = "ID"
            event["message"]["usage"].pop("service_tier", None)
        block = event.get("content_block", {})
        if "id" in block:
            block["id"] = "ID"
        event.pop(METRICS_KEY, None)
    return out


def first_party_stream(http: httpx.Client, **extra: Any) -> list[dict[str, Any]]:
    body = {"model": MODEL, "stream": True, **prompt(**extra)}
    response = http.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    assert response.status_code == 200
    return sse_events(response.text)


def invoke(
    http: httpx.Client,
    *,
    stream: bool,
    body: dict[str, Any] | None = None,
    spec: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    prefix = f"/_fault/{spec}" if spec is not None else ""
    route = "invoke-with-response-stream" if stream else "invoke"
    return http.post(
        f"{prefix}{BEDROCK_PATH}/{route}",
        json=invoke_body() if body is None else body,
        headers={**BEDROCK_HEADERS, **(headers or {})},
    )


# --------------------------------------------------------------------------- InvokeModel


def test_model_name_comes_from_the_bedrock_id() -> None:
    assert claude_name(BEDROCK_MODEL) == MODEL
    assert claude_name("anthropic.claude-sonnet-4-20250514-v1:0") == "claude-sonnet-4-20250514"
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/global.anthropic.claude-x-v2:0"
    assert claude_name(arn) == "claude-x"
    assert claude_name("my-provisioned-model") == "my-provisioned-model"


def test_invoke_returns_a_message_with_usage(bedrock: Any, app: SimulatorApp) -> None:
    result = bedrock.invoke_model(modelId=BEDROCK_MODEL, body=json.dumps(invoke_body()))
    message = json.loads(result["body"].read())
    assert result["contentType"] == "application/json"
    assert message["id"].startswith("msg_bdrk_")
    assert message["type"] == "message"
    assert message["model"] == MODEL
    assert message["content"] == [{"type": "text", "text": "Echo: hello world"}]
    assert message["stop_reason"] == "end_turn"
    assert message["usage"] == {
        "input_tokens": 3,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 4,
    }
    headers = result["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amzn-bedrock-input-token-count"] == "3"
    assert headers["x-amzn-bedrock-output-token-count"] == "4"
    assert int(headers["x-amzn-bedrock-invocation-latency"]) > 0
    recorded = app.requests[-1]
    assert recorded["path"] == f"/model/{BEDROCK_MODEL}/invoke"
    assert recorded["json"]["anthropic_version"] == VERSION


@pytest.mark.parametrize("stream", [False, True])
def test_invoke_answers_what_messages_answers(http: httpx.Client, stream: bool) -> None:
    """Thinking and a tool call too: the same blocks as /v1/messages, Bedrock's ids."""
    extra = {"thinking": THINKING, "tools": [WEATHER_TOOL]}
    body = {"model": MODEL, "stream": stream, **prompt("What's the weather?", **extra)}
    first_party = http.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    answer = invoke(http, stream=stream, body=invoke_body("What's the weather?", **extra))
    assert answer.status_code == 200
    if stream:
        assert answer.headers["content-type"] == "application/vnd.amazon.eventstream"
        assert answer.headers["x-amzn-bedrock-content-type"] == "application/json"
        assert without_ids(chunk_events(answer.content)) == without_ids(
            sse_events(first_party.text)
        )
        return
    message, expected = answer.json(), first_party.json()
    assert message["content"][1]["id"].startswith("toolu_bdrk_")
    for block in (message["content"][1], expected["content"][1]):
        block["id"] = "ID"
    expected["usage"].pop("service_tier")
    assert {**message, "id": "ID"} == {**expected, "id": "ID"}
    assert [b["type"] for b in message["content"]] == ["thinking", "tool_use"]


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"thinking": THINKING},
        {"tools": [WEATHER_TOOL]},
        {"thinking": THINKING, "tools": [WEATHER_TOOL]},
    ],
    ids=["text", "thinking", "tool", "thinking+tool"],
)
def test_stream_is_the_messages_stream_in_chunks(http: httpx.Client, extra: dict[str, Any]) -> None:
    text = "What's the weather?" if "tools" in extra else "hello world"
    expected = first_party_stream(http, text=text, **extra)
    response = invoke(http, stream=True, body=invoke_body(text, **extra))
    events = chunk_events(response.content)
    assert without_ids(events) == without_ids(expected)
    start = events[0]["message"]
    assert start["id"].startswith("msg_bdrk_")
    assert "service_tier" not in start["usage"]
    assert [e["type"] for e in events if METRICS_KEY in e] == ["message_stop"]
    final = events[-2]["usage"]
    assert events[-1][METRICS_KEY] == {
        "inputTokenCount": final["input_tokens"],
        "outputTokenCount": final["output_tokens"],
        "invocationLatency": 100,
        "firstByteLatency": 40,
    }
    deltas = {e["delta"]["type"] for e in events if e["type"] == "content_block_delta"}
    wanted = {"text_delta"} if "tools" not in extra else {"input_json_delta"}
    if "thinking" in extra:
        wanted |= {"thinking_delta", "signature_delta"}
    assert deltas == wanted


def test_stream_parsed_by_botocore(bedrock: Any) -> None:
    result = bedrock.invoke_model_with_response_stream(
        modelId=BEDROCK_MODEL, body=json.dumps(invoke_body(thinking=THINKING))
    )
    assert result["contentType"] == "application/json"
    events = [json.loads(event["chunk"]["bytes"]) for event in result["body"]]
    text = "".join(e["delta"].get("text", "") for e in events if e["type"] == "content_block_delta")
    assert text == "Echo: hello world"
    signature = [e for e in events if e.get("delta", {}).get("type") == "signature_delta"]
    assert signature
    assert signature[0]["delta"]["signature"]
    assert events[-1]["type"] == "message_stop"
    assert events[-1][METRICS_KEY]["inputTokenCount"] == 3


def test_anthropic_bedrock_sdk_reads_both(base: str) -> None:
    client = anthropic.AnthropicBedrock(
        aws_access_key="testing",
        aws_secret_key="testing",
        aws_region="us-east-1",
        base_url=base,
        max_retries=0,
    )
    message = client.messages.create(
        model=BEDROCK_MODEL,
        max_tokens=256,
        tools=[WEATHER_TOOL],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "What's the weather?"}],
    )
    assert message.stop_reason == "tool_use"
    block = message.content[0]
    assert block.type == "tool_use"
    assert block.input == {"location": "Paris"}
    with client.messages.stream(
        model=BEDROCK_MODEL,
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "hello world"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: hello world"
    thinking = final.content[0]
    assert thinking.type == "thinking"
    assert thinking.signature
    assert final.usage.output_tokens == count_tokens(thinking.thinking) + 4


def test_cache_tokens_in_usage_and_metrics(http: httpx.Client) -> None:
    system = [{"type": "text", "text": "be brief " * 20, "cache_control": {"type": "ephemeral"}}]
    body = invoke_body(system=system)
    written = invoke(http, stream=False, body=body)
    assert written.json()["usage"]["cache_creation_input_tokens"] == count_tokens("be brief " * 20)
    assert written.headers["x-amzn-bedrock-cache-write-input-token-count"] == str(
        count_tokens("be brief " * 20)
    )
    read = chunk_events(invoke(http, stream=True, body=body).content)
    metrics = read[-1][METRICS_KEY]
    assert metrics["cacheReadInputTokenCount"] == count_tokens("be brief " * 20)
    assert metrics["cacheWriteInputTokenCount"] == 0
    assert metrics["inputTokenCount"] == read[0]["message"]["usage"]["input_tokens"] == 3


# --------------------------------------------------------------------------- request checks

BAD_BODIES = [
    ({"max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}, "anthropic_version"),
    ({"anthropic_version": VERSION, "messages": [{"role": "user", "content": "hi"}]}, "max_tokens"),
    (invoke_body(model=MODEL), "model"),
    (invoke_body(stream=True), "stream"),
    (invoke_body(anthropic_beta="interleaved-thinking-2025-05-14"), "anthropic_beta"),
]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("body", "key"), BAD_BODIES)
def test_malformed_body_is_a_validation_error(
    http: httpx.Client, stream: bool, body: dict[str, Any], key: str
) -> None:
    response = invoke(http, stream=stream, body=body)
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"
    assert response.headers["content-type"] == "application/json"
    message = response.json()["message"]
    assert message.startswith("Malformed input request: #: ")
    assert f"[{key}]" in message or f"{key}:" in message


def test_missing_version_parsed_by_botocore(bedrock: Any) -> None:
    with pytest.raises(ClientError) as caught:
        bedrock.invoke_model(modelId=BEDROCK_MODEL, body=json.dumps(prompt()))
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert "required key [anthropic_version] not found" in error["Message"]


def test_beta_list_is_accepted(http: httpx.Client) -> None:
    body = invoke_body(anthropic_beta=["interleaved-thinking-2025-05-14"])
    assert invoke(http, stream=False, body=body).status_code == 200


@pytest.mark.parametrize("route", ["invoke", "invoke-with-response-stream", "count-tokens"])
def test_bedrock_routes_require_authorization(http: httpx.Client, route: str) -> None:
    response = http.post(f"{BEDROCK_PATH}/{route}", json=invoke_body())
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


# --------------------------------------------------------------------------- faults

NEW_ROUTES = [
    (f"{BEDROCK_PATH}/invoke", BEDROCK_HEADERS, invoke_body()),
    (f"{BEDROCK_PATH}/invoke-with-response-stream", BEDROCK_HEADERS, invoke_body()),
    (
        f"{BEDROCK_PATH}/count-tokens",
        BEDROCK_HEADERS,
        {"input": {"converse": {"messages": [{"role": "user", "content": [{"text": "hi"}]}]}}},
    ),
    (
        "/v1/messages/count_tokens",
        ANTHROPIC_HEADERS,
        {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
    ),
]


@pytest.mark.parametrize(("route", "headers", "body"), NEW_ROUTES)
def test_new_routes_take_the_fault_prefix(
    http: httpx.Client, app: SimulatorApp, route: str, headers: dict[str, str], body: Any
) -> None:
    faulted = http.post(f"/_fault/429,retry_after=2{route}", json=body, headers=headers)
    assert faulted.status_code == 429
    assert faulted.headers["retry-after"] == "2"
    if route.startswith("/v1/"):
        assert faulted.json()["error"]["type"] == "rate_limit_error"
    else:
        assert faulted.headers["x-amzn-errortype"] == "ThrottlingException"
    assert http.post(route, json=body, headers=headers).status_code == 200
    assert [r["path"] for r in app.requests] == [
        "/_fault/429,retry_after=2" + route.replace("%3A", ":"),
        route.replace("%3A", ":"),
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_throttling_fault_parsed_by_botocore(base: str, stream: bool) -> None:
    client = botocore_client(f"{base}/_fault/429,times=1")
    call = client.invoke_model_with_response_stream if stream else client.invoke_model
    with pytest.raises(ClientError) as caught:
        call(modelId=BEDROCK_MODEL, body=json.dumps(invoke_body()))
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "7"
    call(modelId=BEDROCK_MODEL, body=json.dumps(invoke_body()))  # times=1: healthy again


def test_mid_stream_exception(http: httpx.Client) -> None:
    response = invoke(http, stream=True, spec="error_event")
    assert response.status_code == 200
    parsed = frames(response.content)
    *chunks, (headers, payload) = parsed
    assert all(h[":event-type"] == "chunk" for h, _ in chunks)
    assert headers[":message-type"] == "exception"
    assert headers[":exception-type"] == "modelStreamErrorException"
    assert json.loads(payload)["message"]
    decoded = [json.loads(base64.b64decode(json.loads(p)["bytes"])) for _, p in chunks]
    assert [e["delta"]["type"] for e in decoded if e["type"] == "content_block_delta"] == [
        "text_delta"
    ]


def test_mid_stream_exception_parsed_by_botocore(base: str) -> None:
    client = botocore_client(f"{base}/_fault/error_event")
    result = client.invoke_model_with_response_stream(
        modelId=BEDROCK_MODEL, body=json.dumps(invoke_body())
    )
    seen: list[dict[str, Any]] = []
    with pytest.raises(EventStreamError) as caught:
        seen.extend(json.loads(event["chunk"]["bytes"]) for event in result["body"])
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"


def test_truncated_stream_has_no_message_stop(http: httpx.Client) -> None:
    events = chunk_events(invoke(http, stream=True, spec="truncate").content)
    deltas = [e for e in events if e["type"] == "content_block_delta"]
    assert len(deltas) == 2
    assert events[-1]["type"] == "content_block_delta"
    assert all(METRICS_KEY not in e for e in events)


def test_invalid_json_fault_breaks_the_event_not_the_frame(http: httpx.Client) -> None:
    parsed = frames(invoke(http, stream=True, spec="invalid_json").content)
    headers, payload = parsed[-1]
    assert headers == CHUNK_HEADERS
    with pytest.raises(ValueError, match="Expecting"):
        json.loads(base64.b64decode(json.loads(payload)["bytes"]))


@pytest.mark.parametrize(
    ("spec", "status", "kind"),
    [
        ("500", 500, "InternalServerException"),
        ("503", 503, "ServiceUnavailableException"),
        ("content_policy", 400, "ValidationException"),
        ("context_length", 400, "ValidationException"),
        ("error_event", 500, "InternalServerException"),
    ],
)
def test_error_faults_on_invoke(http: httpx.Client, spec: str, status: int, kind: str) -> None:
    response = invoke(http, stream=False, spec=spec)
    assert response.status_code == status
    assert response.headers["x-amzn-errortype"] == kind


def test_fault_by_marker_on_the_stream(http: httpx.Client) -> None:
    response = invoke(http, stream=True, body=invoke_body("hi [sim-fault:503]"))
    assert response.status_code == 503
    assert response.headers["x-amzn-errortype"] == "ServiceUnavailableException"


# --------------------------------------------------------------------------- token counting

TOOL_LOOP = [
    {"role": "user", "content": "What's the weather in Paris today?"},
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}],
    },
    {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny, 21C"}],
    },
]
RICH = {"system": "You are a terse assistant.", "tools": [WEATHER_TOOL], "messages": TOOL_LOOP}


def test_both_counts_equal_the_messages_input_tokens(
    claude: anthropic.Anthropic, bedrock: Any, http: httpx.Client
) -> None:
    answered = claude.messages.create(model=MODEL, max_tokens=64, **RICH)  # type: ignore[call-overload]
    expected = answered.usage.input_tokens
    assert expected > 10
    counted = claude.messages.count_tokens(model=MODEL, **RICH)  # type: ignore[arg-type]
    assert counted.input_tokens == expected
    body = {"anthropic_version": VERSION, "max_tokens": 64, **RICH}
    via_bedrock = bedrock.count_tokens(
        modelId=BEDROCK_MODEL, input={"invokeModel": {"body": json.dumps(body).encode()}}
    )
    assert via_bedrock["inputTokens"] == expected
    invoked = invoke(http, stream=False, body=body).json()
    assert invoked["usage"]["input_tokens"] == expected


def test_bedrock_count_of_a_converse_input(bedrock: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "hello there world"}]}]
    system = [{"text": "You are a terse assistant."}]
    answered = bedrock.converse(modelId=BEDROCK_MODEL, messages=messages, system=system)
    counted = bedrock.count_tokens(
        modelId=BEDROCK_MODEL, input={"converse": {"messages": messages, "system": system}}
    )
    assert counted["inputTokens"] == answered["usage"]["inputTokens"]
    # Each prompt segment is counted on its own (scenario's rule): 4 + 7, not 10 for the whole.
    segments = count_tokens("You are a terse assistant.") + count_tokens("hello there world")
    assert counted["inputTokens"] == segments == 11


def test_counting_leaves_the_prompt_cache_cold(claude: anthropic.Anthropic) -> None:
    system = [{"type": "text", "text": "be brief " * 20, "cache_control": {"type": "ephemeral"}}]
    messages = [{"role": "user", "content": "hi"}]
    counted = claude.messages.count_tokens(model=MODEL, system=system, messages=messages)  # type: ignore[arg-type]
    answered = claude.messages.create(
        model=MODEL,
        max_tokens=16,
        system=system,  # type: ignore[arg-type]
        messages=messages,  # type: ignore[arg-type]
    )
    assert answered.usage.cache_creation_input_tokens == count_tokens("be brief " * 20)
    assert counted.input_tokens == answered.usage.input_tokens + count_tokens("be brief " * 20)


@pytest.mark.parametrize(
    ("body", "headers", "status", "kind", "message"),
    [
        (
            {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
            ANTHROPIC_HEADERS,
            400,
            "invalid_request_error",
            "max_tokens: Extra inputs are not permitted",
        ),
        (
            {"model": MODEL},
            ANTHROPIC_HEADERS,
            400,
            "invalid_request_error",
            "messages: Field required",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
            {"x-api-key": ANTHROPIC_KEY},
            400,
            "invalid_request_error",
            "anthropic-version: header is required",
        ),
        (
            {"model": MODEL, "messages": [{"role": "user", "content": "hi"}]},
            {"anthropic-version": "2023-06-01"},
            401,
            "authentication_error",
            "x-api-key header is required",
        ),
    ],
)
def test_anthropic_count_errors(
    http: httpx.Client,
    body: dict[str, Any],
    headers: dict[str, str],
    status: int,
    kind: str,
    message: str,
) -> None:
    response = http.post("/v1/messages/count_tokens", json=body, headers=headers)
    assert response.status_code == status
    error = response.json()
    assert error["type"] == "error"
    assert error["error"] == {"type": kind, "message": message}


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({}, "Value null at 'input'"),
        ({"input": {"converse": {}, "invokeModel": {}}}, "exactly one of invokeModel"),
        ({"input": {"invokeModel": {"body": "not base64!"}}}, "Malformed input request"),
        (
            {"input": {"invokeModel": {"body": base64.b64encode(b'{"max_tokens": 1}').decode()}}},
            "required key [anthropic_version] not found",
        ),
        ({"input": {"converse": {"messages": []}}}, "Value null at 'messages'"),
    ],
)
def test_bedrock_count_errors(http: httpx.Client, body: dict[str, Any], needle: str) -> None:
    response = http.post(f"{BEDROCK_PATH}/count-tokens", json=body, headers=BEDROCK_HEADERS)
    assert response.status_code == 400
    assert response.headers["x-amzn-errortype"] == "ValidationException"
    assert needle in response.json()["message"]

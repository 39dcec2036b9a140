"""The provider simulator, checked with the vendors' own parsers.

OpenAI's and Anthropic's official SDKs and botocore (the AWS SDK's core, including its
event-stream decoder) read the simulator's answers over real HTTP on 127.0.0.1.
"""

from __future__ import annotations

import json
import struct
from typing import TYPE_CHECKING, Any

import anthropic
import botocore.session
import httpx
import openai
import pytest
from botocore.config import Config
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from botocore.exceptions import ClientError, EventStreamError

from gateway.local.simulator import FAULTS, SimulatorApp, create_app, main
from gateway.local.simulator.eventstream import encode_event, encode_exception
from gateway.local.simulator.scenario import count_tokens, split_chunks
from servers import serve

if TYPE_CHECKING:
    from collections.abc import Iterator

OPENAI_KEY = "sk-sim-openai-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-sim-0123456789abcdef"
BEDROCK_MODEL = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
BEDROCK_PATH = "/model/us.anthropic.claude-3-5-haiku-20241022-v1%3A0"
WEATHER_TOOL_OPENAI = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    },
}
WEATHER_TOOL_ANTHROPIC = {
    "name": "get_weather",
    "description": "Current weather",
    "input_schema": {"type": "object", "properties": {"location": {"type": "string"}}},
}
WEATHER_TOOL_BEDROCK = {
    "toolSpec": {
        "name": "get_weather",
        "description": "Current weather",
        "inputSchema": {"json": {"type": "object", "properties": {"location": {"type": "string"}}}},
    }
}
STALL_SECONDS = 3.0
SHORT = httpx.Timeout(5.0, read=0.5)


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[SimulatorApp, str]]:
    app = create_app()
    with serve(app) as base:
        yield app, base


@pytest.fixture
def app(served: tuple[SimulatorApp, str]) -> SimulatorApp:
    sim = served[0]
    sim.reset()
    sim.sim.stall_seconds = STALL_SECONDS
    return sim


@pytest.fixture
def base(served: tuple[SimulatorApp, str], app: SimulatorApp) -> str:
    del app  # reset first
    return served[1]


@pytest.fixture
def claude(base: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=base, api_key=ANTHROPIC_KEY, max_retries=0)


@pytest.fixture
def bedrock(base: str) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=base,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}),
    )


def openai_body(text: str = "hello world", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **extra}


def anthropic_body(text: str = "hello world", **extra: Any) -> dict[str, Any]:
    messages = [{"role": "user", "content": text}]
    return {"model": "claude-3-5-haiku-20241022", "max_tokens": 256, "messages": messages, **extra}


def bedrock_body(text: str = "hello world", **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": [{"text": text}]}], **extra}


OPENAI_HEADERS = {"authorization": f"Bearer {OPENAI_KEY}"}
ANTHROPIC_HEADERS = {"x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}
BEDROCK_HEADERS = {"authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1"}


def post(
    http: httpx.Client,
    vendor: str,
    *,
    stream: bool = False,
    fault: str | None = None,
    text: str = "hello world",
    timeout: httpx.Timeout | None = None,
) -> httpx.Response:
    headers = {"x-sim-fault": fault} if fault else {}
    if vendor == "openai":
        url, body, auth = "/v1/chat/completions", openai_body(text, stream=stream), OPENAI_HEADERS
    elif vendor == "anthropic":
        url, body, auth = "/v1/messages", anthropic_body(text, stream=stream), ANTHROPIC_HEADERS
    else:
        url = BEDROCK_PATH + ("/converse-stream" if stream else "/converse")
        body, auth = bedrock_body(text), BEDROCK_HEADERS
    kwargs: dict[str, Any] = {"json": body, "headers": {**auth, **headers}}
    if timeout is not None:
        kwargs["timeout"] = timeout
    return http.post(url, **kwargs)


def sse_events(raw: str) -> list[tuple[str | None, str]]:
    events = []
    for block in raw.split("\n\n"):
        if not block.strip():
            continue
        event, data = None, []
        for line in block.split("\n"):
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        events.append((event, "\n".join(data)))
    return events


def frames(raw: bytes) -> list[tuple[dict[str, Any], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(raw)
    return [(message.headers, message.payload) for message in buffer]


# --------------------------------------------------------------------------- helpers


def test_tokens_and_chunks_are_deterministic() -> None:
    assert count_tokens("") == 0
    assert count_tokens("one") == 1
    assert count_tokens("one two") == 3  # 2.6 -> 3
    assert count_tokens("a b c d e") == 7  # 6.5 rounds half up
    pieces = split_chunks("Echo: hello world", 5)
    assert len(pieces) == 5
    assert "".join(pieces) == "Echo: hello world"
    assert split_chunks("ab", 5) == ["a", "b"]


# --------------------------------------------------------------------------- OpenAI


def test_openai_non_stream_parsed_by_sdk(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello world"}]
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Echo: hello world"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (3, 4)
    assert completion.usage.total_tokens == 7


def test_openai_stream_with_usage(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hello world"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Echo: hello world"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert sum(1 for c in chunks if c.choices and c.choices[0].delta.content) == 5
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.total_tokens == 7
    assert all(c.usage is None for c in chunks[:-1])


def test_openai_stream_wire_format(http: httpx.Client) -> None:
    response = post(http, "openai", stream=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.text.endswith("data: [DONE]\n\n")
    events = sse_events(response.text)
    assert all(event is None for event, _ in events)
    assert "usage" not in json.loads(events[0][1])  # no include_usage: no usage key at all


def test_openai_chunks_header(http: httpx.Client) -> None:
    response = http.post(
        "/v1/chat/completions",
        json=openai_body(stream=True),
        headers={**OPENAI_HEADERS, "x-sim-chunks": "2"},
    )
    deltas = [json.loads(d) for _, d in sse_events(response.text) if d != "[DONE]"]
    contents = [c["choices"][0]["delta"].get("content") for c in deltas]
    assert [c for c in contents if c] == ["Echo: hel", "lo world"]


def test_openai_tool_call(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL_OPENAI],  # type: ignore[list-item]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    call = choice.message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(call.function.arguments) == {"location": "Paris"}  # type: ignore[union-attr]


def test_openai_tool_call_stream(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "weather please"}],
        tools=[WEATHER_TOOL_OPENAI],  # type: ignore[list-item]
        stream=True,
    )
    chunks = [c for c in stream if c.choices]
    first = chunks[0].choices[0].delta.tool_calls[0]  # type: ignore[index]
    assert first.id
    assert first.type == "function"
    assert first.function.name == "get_weather"  # type: ignore[union-attr]
    assert first.function.arguments == ""  # type: ignore[union-attr]
    fragments = [
        c.choices[0].delta.tool_calls[0].function.arguments  # type: ignore[index,union-attr]
        for c in chunks[1:]
        if c.choices[0].delta.tool_calls
    ]
    assert len(fragments) == 5
    assert json.loads("".join(fragments)) == {"location": "Paris"}  # type: ignore[arg-type]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"


def test_openai_stream_helper_accumulates_tool_call(oai: openai.OpenAI) -> None:
    with oai.chat.completions.stream(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hi"}],
        tools=[WEATHER_TOOL_OPENAI],  # type: ignore[list-item]
        tool_choice="required",
    ) as stream:
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert json.loads(call.function.arguments) == {"location": "Paris"}  # type: ignore[union-attr]


def test_openai_after_tool_result_answers_text(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": "{}"},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        ],
        tools=[WEATHER_TOOL_OPENAI],  # type: ignore[list-item]
    )
    assert completion.choices[0].finish_reason == "stop"


def test_openai_models(oai: openai.OpenAI) -> None:
    ids = [model.id for model in oai.models.list()]
    assert "gpt-4o-mini" in ids


def test_openai_requires_bearer_key(http: httpx.Client) -> None:
    response = http.post("/v1/chat/completions", json=openai_body())
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_openai_validation_error(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        oai.chat.completions.create(model="gpt-4o-mini", messages=[])
    assert caught.value.code == "missing_required_parameter"


# --------------------------------------------------------------------------- Anthropic


def test_anthropic_non_stream_parsed_by_sdk(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-3-5-haiku-20241022",
        max_tokens=256,
        messages=[{"role": "user", "content": "hello world"}],
    )
    assert message.content[0].type == "text"
    assert message.content[0].text == "Echo: hello world"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (3, 4)
    assert message.usage.cache_creation_input_tokens == 0
    assert message.usage.cache_read_input_tokens == 0


def test_anthropic_stream_with_thinking(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="claude-sonnet-4-20250514",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "hello world"}],
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "Echo: hello world"
    thinking, answer = final.content
    assert thinking.type == "thinking"
    assert thinking.thinking.startswith("The user wrote: hello world")
    assert thinking.signature
    assert answer.type == "text"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == count_tokens(thinking.thinking) + 4


def test_anthropic_stream_has_every_event_type(http: httpx.Client) -> None:
    body = anthropic_body(stream=True, thinking={"type": "enabled", "budget_tokens": 1024})
    response = http.post("/v1/messages", json=body, headers=ANTHROPIC_HEADERS)
    events = sse_events(response.text)
    names = [name for name, _ in events]
    for name, data in events:
        assert json.loads(data)["type"] == name
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert "ping" in names
    deltas = {json.loads(d)["delta"]["type"] for n, d in events if n == "content_block_delta"}
    assert deltas == {"thinking_delta", "signature_delta", "text_delta"}


def test_anthropic_non_stream_thinking(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-sonnet-4-20250514",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": "hi"}],
    )
    assert [block.type for block in message.content] == ["thinking", "text"]


def test_anthropic_tool_use(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-3-5-haiku-20241022",
        max_tokens=256,
        tools=[WEATHER_TOOL_ANTHROPIC],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "What's the weather?"}],
    )
    block = message.content[0]
    assert message.stop_reason == "tool_use"
    assert block.type == "tool_use"
    assert block.name == "get_weather"
    assert block.input == {"location": "Paris"}


def test_anthropic_tool_use_stream(claude: anthropic.Anthropic) -> None:
    with claude.messages.stream(
        model="claude-3-5-haiku-20241022",
        max_tokens=256,
        tools=[WEATHER_TOOL_ANTHROPIC],  # type: ignore[list-item]
        tool_choice={"type": "any"},
        messages=[{"role": "user", "content": "hi"}],
    ) as stream:
        final = stream.get_final_message()
    block = final.content[0]
    assert block.type == "tool_use"
    assert block.input == {"location": "Paris"}
    assert final.stop_reason == "tool_use"


def test_anthropic_tool_result_ends_the_loop(claude: anthropic.Anthropic) -> None:
    message = claude.messages.create(
        model="claude-3-5-haiku-20241022",
        max_tokens=256,
        tools=[WEATHER_TOOL_ANTHROPIC],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "What's the weather?"},
            {
                "role": "assistant",
                "content": [
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {}}
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": "weather: sunny"}
                ],
            },
        ],
    )
    assert message.stop_reason == "end_turn"
    assert message.content[0].text == "Echo: weather: sunny"  # type: ignore[union-attr]


def test_anthropic_prompt_cache_written_then_read(claude: anthropic.Anthropic) -> None:
    system = [
        {"type": "text", "text": "long system prompt " * 20, "cache_control": {"type": "ephemeral"}}
    ]

    def ask() -> anthropic.types.Usage:
        return claude.messages.create(
            model="claude-3-5-haiku-20241022",
            max_tokens=64,
            system=system,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": "hello world"}],
        ).usage

    first, second = ask(), ask()
    assert first.cache_creation_input_tokens == count_tokens(system[0]["text"])  # type: ignore[arg-type]
    assert first.cache_read_input_tokens == 0
    assert second.cache_read_input_tokens == first.cache_creation_input_tokens
    assert second.cache_creation_input_tokens == 0
    assert first.input_tokens == second.input_tokens == 3


def test_anthropic_requires_key_and_version(http: httpx.Client) -> None:
    missing_key = http.post(
        "/v1/messages", json=anthropic_body(), headers={"anthropic-version": "x"}
    )
    assert missing_key.status_code == 401
    assert missing_key.json()["error"]["type"] == "authentication_error"
    missing_version = http.post(
        "/v1/messages", json=anthropic_body(), headers={"x-api-key": ANTHROPIC_KEY}
    )
    assert missing_version.status_code == 400
    assert missing_version.json()["error"]["type"] == "invalid_request_error"


# --------------------------------------------------------------------------- Bedrock


def test_eventstream_round_trips_through_botocore() -> None:
    one = encode_event("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "hé"}})
    two = encode_exception("throttlingException", {"message": "slow down"})
    total, headers_length = struct.unpack("!II", one[:8])
    assert total == len(one)
    assert 0 < headers_length < total
    raw = one + two
    buffer = EventStreamBuffer()
    for start in range(0, len(raw), 7):  # arbitrary network-sized pieces
        buffer.add_data(raw[start : start + 7])
    first, second = list(buffer)
    assert first.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(first.payload) == {"contentBlockIndex": 0, "delta": {"text": "hé"}}
    assert second.headers[":message-type"] == "exception"
    assert second.headers[":exception-type"] == "throttlingException"
    assert json.loads(second.payload) == {"message": "slow down"}


def test_eventstream_crc_is_checked() -> None:
    raw = bytearray(encode_event("messageStart", {"role": "assistant"}))
    raw[-6] ^= 0xFF  # flip a payload byte; the message CRC no longer matches
    buffer = EventStreamBuffer()
    buffer.add_data(bytes(raw))
    with pytest.raises(ChecksumMismatch):
        list(buffer)


def test_bedrock_converse_parsed_by_botocore(bedrock: Any, app: SimulatorApp) -> None:
    result = bedrock.converse(
        modelId=BEDROCK_MODEL, messages=[{"role": "user", "content": [{"text": "hello world"}]}]
    )
    assert result["output"]["message"]["content"] == [{"text": "Echo: hello world"}]
    assert result["stopReason"] == "end_turn"
    assert result["usage"] == {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}
    assert result["metrics"]["latencyMs"] >= 0
    record = app.requests[-1]
    assert record["raw_path"] == f"{BEDROCK_PATH}/converse"  # the ':' arrives URL-encoded
    assert record["path"] == f"/model/{BEDROCK_MODEL}/converse"
    assert record["headers"]["authorization"].startswith("AWS4-HMAC-SHA256")


def test_bedrock_converse_stream_parsed_by_botocore(bedrock: Any) -> None:
    result = bedrock.converse_stream(
        modelId=BEDROCK_MODEL, messages=[{"role": "user", "content": [{"text": "hello world"}]}]
    )
    events = list(result["stream"])
    names = [next(iter(event)) for event in events]
    assert names[0] == "messageStart"
    assert names[-2:] == ["messageStop", "metadata"]
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    assert text == "Echo: hello world"
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    metadata = events[-1]["metadata"]
    assert metadata["usage"] == {"inputTokens": 3, "outputTokens": 4, "totalTokens": 7}
    assert "latencyMs" in metadata["metrics"]


def test_bedrock_stream_raw_frames(http: httpx.Client) -> None:
    response = post(http, "bedrock", stream=True)
    assert response.headers["content-type"] == "application/vnd.amazon.eventstream"
    decoded = frames(response.content)
    kinds = [headers[":event-type"] for headers, _ in decoded]
    assert kinds.count("contentBlockDelta") == 5
    assert "contentBlockStart" not in kinds  # text blocks have none, as on Bedrock
    for headers, payload in decoded:
        assert headers[":message-type"] == "event"
        assert headers[":content-type"] == "application/json"
        assert "p" in json.loads(payload)  # the service's padding field


def test_bedrock_tool_use_and_reasoning_stream(bedrock: Any) -> None:
    result = bedrock.converse_stream(
        modelId=BEDROCK_MODEL,
        messages=[{"role": "user", "content": [{"text": "weather?"}]}],
        toolConfig={"tools": [WEATHER_TOOL_BEDROCK]},
        additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 1024}},
    )
    events = list(result["stream"])
    deltas = [e["contentBlockDelta"] for e in events if "contentBlockDelta" in e]
    reasoning = "".join(
        d["delta"]["reasoningContent"].get("text", "")
        for d in deltas
        if d["contentBlockIndex"] == 0
    )
    assert reasoning.startswith("The user wrote: weather?")
    assert any("signature" in d["delta"].get("reasoningContent", {}) for d in deltas)
    start = next(e["contentBlockStart"] for e in events if "contentBlockStart" in e)
    assert start["contentBlockIndex"] == 1
    assert start["start"]["toolUse"]["name"] == "get_weather"
    arguments = "".join(
        d["delta"]["toolUse"]["input"] for d in deltas if d["contentBlockIndex"] == 1
    )
    assert json.loads(arguments) == {"location": "Paris"}
    assert next(e for e in events if "messageStop" in e)["messageStop"]["stopReason"] == "tool_use"


def test_bedrock_tool_use_non_stream(bedrock: Any) -> None:
    result = bedrock.converse(
        modelId=BEDROCK_MODEL,
        messages=[{"role": "user", "content": [{"text": "hi"}]}],
        toolConfig={"tools": [WEATHER_TOOL_BEDROCK], "toolChoice": {"any": {}}},
    )
    tool = result["output"]["message"]["content"][0]["toolUse"]
    assert (tool["name"], tool["input"]) == ("get_weather", {"location": "Paris"})
    assert result["stopReason"] == "tool_use"


def test_bedrock_requires_authorization(http: httpx.Client) -> None:
    response = http.post(BEDROCK_PATH + "/converse", json=bedrock_body())
    assert response.status_code == 403
    assert response.headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"


def test_bedrock_errors_parsed_by_botocore(bedrock: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "[sim-fault:context_length] hi"}]}]
    with pytest.raises(ClientError) as caught:
        bedrock.converse(modelId=BEDROCK_MODEL, messages=messages)
    error = caught.value.response["Error"]
    assert error["Code"] == "ValidationException"
    assert error["Message"] == "Input is too long for requested model."
    messages = [{"role": "user", "content": [{"text": "[sim-fault:429] hi"}]}]
    with pytest.raises(ClientError) as caught:
        bedrock.converse(modelId=BEDROCK_MODEL, messages=messages)
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"


# --------------------------------------------------------------------------- HTTP-error faults


def _error_kind(vendor: str, response: httpx.Response) -> str:
    if vendor == "bedrock":
        assert set(response.json()) == {"message"}
        return response.headers["x-amzn-errortype"]
    body = response.json()
    if vendor == "anthropic":
        assert body["type"] == "error"
        return str(body["error"]["type"])
    error = body["error"]
    return str(error.get("code") or error["type"])


ERROR_CASES = [
    ("openai", "400", 400, "missing_required_parameter"),
    ("openai", "401", 401, "invalid_api_key"),
    ("openai", "429", 429, "rate_limit_exceeded"),
    ("openai", "500", 500, "server_error"),
    ("openai", "502", 502, "502"),
    ("openai", "503", 503, "server_error"),
    ("openai", "529", 503, "server_error"),
    ("openai", "context_length", 400, "context_length_exceeded"),
    ("openai", "content_policy", 400, "invalid_prompt"),
    ("anthropic", "400", 400, "invalid_request_error"),
    ("anthropic", "401", 401, "authentication_error"),
    ("anthropic", "429", 429, "rate_limit_error"),
    ("anthropic", "500", 500, "api_error"),
    ("anthropic", "502", 502, "api_error"),
    ("anthropic", "503", 503, "api_error"),
    ("anthropic", "529", 529, "overloaded_error"),
    ("anthropic", "context_length", 400, "invalid_request_error"),
    ("anthropic", "content_policy", 400, "invalid_request_error"),
    ("bedrock", "400", 400, "ValidationException"),
    ("bedrock", "401", 403, "UnrecognizedClientException"),
    ("bedrock", "429", 429, "ThrottlingException"),
    ("bedrock", "500", 500, "InternalServerException"),
    ("bedrock", "502", 502, "InternalServerException"),
    ("bedrock", "503", 503, "ServiceUnavailableException"),
    ("bedrock", "529", 503, "ServiceUnavailableException"),
    ("bedrock", "context_length", 400, "ValidationException"),
]


@pytest.mark.parametrize(("vendor", "fault", "status", "kind"), ERROR_CASES)
@pytest.mark.parametrize("stream", [False, True])
def test_error_faults(
    http: httpx.Client, vendor: str, fault: str, status: int, kind: str, stream: bool
) -> None:
    response = post(http, vendor, fault=fault, stream=stream)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert _error_kind(vendor, response) == kind
    if fault == "429":
        assert response.headers["retry-after"] == "7"
    assert OPENAI_KEY not in response.text
    assert ANTHROPIC_KEY not in response.text


def test_context_length_messages_are_the_vendors(http: httpx.Client) -> None:
    openai_error = post(http, "openai", fault="context_length").json()["error"]
    assert openai_error["message"].startswith("This model's maximum context length is 128000")
    assert openai_error["param"] == "messages"
    message = post(http, "anthropic", fault="context_length").json()["error"]["message"]
    assert message.startswith("prompt is too long: ")
    assert message.endswith(" tokens > 200000 maximum")


@pytest.mark.parametrize("vendor", ["openai", "anthropic", "bedrock"])
def test_leak_echoes_the_credential(http: httpx.Client, vendor: str) -> None:
    response = post(http, vendor, fault="leak")
    assert response.status_code in (401, 403)
    secret = {
        "openai": OPENAI_KEY,
        "anthropic": ANTHROPIC_KEY,
        "bedrock": BEDROCK_HEADERS["authorization"],
    }[vendor]
    assert secret in response.text


def test_sdk_error_classes(oai: openai.OpenAI, claude: anthropic.Anthropic) -> None:
    with pytest.raises(openai.RateLimitError) as rate:
        oai.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "[sim-fault:429] hi"}]
        )
    assert rate.value.response.headers["retry-after"] == "7"
    with pytest.raises(anthropic.APIStatusError) as overloaded:
        claude.messages.create(
            model="claude-3-5-haiku-20241022",
            max_tokens=16,
            messages=[{"role": "user", "content": "[sim-fault:529] hi"}],
        )
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"  # type: ignore[index]


def test_bedrock_content_policy_is_a_filtered_answer(bedrock: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "[sim-fault:content_policy] hi"}]}]
    result = bedrock.converse(modelId=BEDROCK_MODEL, messages=messages)
    assert result["stopReason"] == "content_filtered"
    assert result["output"]["message"]["content"] == []
    events = list(bedrock.converse_stream(modelId=BEDROCK_MODEL, messages=messages)["stream"])
    assert next(e for e in events if "messageStop" in e)["messageStop"]["stopReason"] == (
        "content_filtered"
    )


# --------------------------------------------------------------------------- body faults


@pytest.mark.parametrize("vendor", ["openai", "anthropic", "bedrock"])
def test_html_fault(http: httpx.Client, vendor: str) -> None:
    response = post(http, vendor, fault="html")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.text.startswith("<!DOCTYPE html>")


@pytest.mark.parametrize("vendor", ["openai", "anthropic", "bedrock"])
@pytest.mark.parametrize("fault", ["invalid_json", "truncate"])
def test_broken_json_body(http: httpx.Client, vendor: str, fault: str) -> None:
    response = post(http, vendor, fault=fault)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(ValueError, match=r"Expecting|Unterminated|Extra data|Invalid"):
        json.loads(response.content)


@pytest.mark.parametrize("vendor", ["openai", "anthropic", "bedrock"])
def test_error_event_without_stream_is_a_500(http: httpx.Client, vendor: str) -> None:
    assert post(http, vendor, fault="error_event").status_code == 500


@pytest.mark.parametrize("vendor", ["openai", "anthropic", "bedrock"])
def test_timeout_sends_nothing(http: httpx.Client, vendor: str) -> None:
    with pytest.raises(httpx.ReadTimeout):
        post(http, vendor, fault="timeout", timeout=SHORT)


def test_timeout_ends_after_the_stall(http: httpx.Client, app: SimulatorApp) -> None:
    app.sim.stall_seconds = 0.2
    assert post(http, "openai", fault="timeout").status_code == 504


def test_stall_after_first_without_stream_sends_headers_only(http: httpx.Client) -> None:
    with http.stream(
        "POST",
        "/v1/chat/completions",
        json=openai_body(),
        headers={**OPENAI_HEADERS, "x-sim-fault": "stall_after_first"},
        timeout=SHORT,
    ) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            response.read()


# --------------------------------------------------------------------------- stream faults


def test_openai_truncated_stream(http: httpx.Client) -> None:
    events = sse_events(post(http, "openai", stream=True, fault="truncate").text)
    payloads = [json.loads(data) for _, data in events]
    assert [p["choices"][0]["delta"].get("content") for p in payloads] == ["", "Echo", ": he"]
    assert all(p["choices"][0]["finish_reason"] is None for p in payloads)


def test_anthropic_truncated_stream(http: httpx.Client) -> None:
    names = [
        name for name, _ in sse_events(post(http, "anthropic", stream=True, fault="truncate").text)
    ]
    assert names.count("content_block_delta") == 2
    assert "message_stop" not in names
    assert "message_delta" not in names


def test_bedrock_truncated_stream(http: httpx.Client) -> None:
    decoded = frames(post(http, "bedrock", stream=True, fault="truncate").content)
    kinds = [headers[":event-type"] for headers, _ in decoded]
    assert kinds == ["messageStart", "contentBlockDelta", "contentBlockDelta"]


def request_parts(vendor: str, fault: str) -> tuple[str, dict[str, Any], dict[str, str]]:
    """(url, streaming body, headers) for a raw streaming request."""
    if vendor == "openai":
        return (
            "/v1/chat/completions",
            openai_body(stream=True),
            {**OPENAI_HEADERS, "x-sim-fault": fault},
        )
    if vendor == "anthropic":
        return (
            "/v1/messages",
            anthropic_body(stream=True),
            {**ANTHROPIC_HEADERS, "x-sim-fault": fault},
        )
    return (
        BEDROCK_PATH + "/converse-stream",
        bedrock_body(),
        {**BEDROCK_HEADERS, "x-sim-fault": fault},
    )


def drain(response: httpx.Response, sink: bytearray) -> None:
    for piece in response.iter_raw():
        sink += piece


@pytest.mark.parametrize("vendor", ["openai", "anthropic", "bedrock"])
def test_stall_after_first_chunk(http: httpx.Client, vendor: str) -> None:
    url, body, headers = request_parts(vendor, "stall_after_first")
    received = bytearray()
    with http.stream("POST", url, json=body, headers=headers, timeout=SHORT) as response:
        assert response.status_code == 200
        with pytest.raises(httpx.ReadTimeout):
            drain(response, received)
    if vendor == "bedrock":
        kinds = [headers[":event-type"] for headers, _ in frames(bytes(received))]
        assert kinds == ["messageStart", "contentBlockDelta"]
    else:
        text = received.decode()
        assert text.endswith("\n\n")
        assert "Echo" in text
        assert "[DONE]" not in text
        assert "message_stop" not in text


def test_openai_error_event_raises_in_sdk(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "[sim-fault:error_event] hi"}],
        stream=True,
    )
    received = []
    with pytest.raises(openai.APIError, match="The server had an error"):
        received.extend(stream)
    assert received  # 200 and a first chunk came before the error


def test_anthropic_error_event_raises_in_sdk(claude: anthropic.Anthropic) -> None:
    with (
        pytest.raises(anthropic.APIStatusError, match="Overloaded"),
        claude.messages.stream(
            model="claude-3-5-haiku-20241022",
            max_tokens=64,
            messages=[{"role": "user", "content": "[sim-fault:error_event] hi"}],
        ) as stream,
    ):
        list(stream.text_stream)


def test_anthropic_error_event_wire_shape(http: httpx.Client) -> None:
    events = sse_events(post(http, "anthropic", stream=True, fault="error_event").text)
    name, data = events[-1]
    assert name == "error"
    assert json.loads(data) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }


def test_bedrock_error_event_raises_in_botocore(bedrock: Any) -> None:
    messages = [{"role": "user", "content": [{"text": "[sim-fault:error_event] hi"}]}]
    stream = bedrock.converse_stream(modelId=BEDROCK_MODEL, messages=messages)["stream"]
    received = []
    with pytest.raises(EventStreamError) as caught:
        received.extend(stream)
    assert caught.value.response["Error"]["Code"] == "modelStreamErrorException"
    assert [next(iter(e)) for e in received] == ["messageStart", "contentBlockDelta"]


@pytest.mark.parametrize("vendor", ["openai", "anthropic"])
def test_invalid_json_stream_event(http: httpx.Client, vendor: str) -> None:
    events = sse_events(post(http, vendor, stream=True, fault="invalid_json").text)
    with pytest.raises(ValueError, match="Expecting"):
        json.loads(events[-1][1])


def test_invalid_json_bedrock_frame(http: httpx.Client) -> None:
    decoded = frames(post(http, "bedrock", stream=True, fault="invalid_json").content)
    headers, payload = decoded[-1]
    assert headers[":event-type"] == "contentBlockDelta"  # the frame itself is intact
    with pytest.raises(ValueError, match="Expecting"):
        json.loads(payload)


# --------------------------------------------------------------------------- fault selection


def test_every_fault_is_exercised() -> None:
    covered = {fault for _, fault, _, _ in ERROR_CASES} | {
        "content_policy",
        "timeout",
        "stall_after_first",
        "truncate",
        "error_event",
        "invalid_json",
        "html",
        "leak",
        "reset",  # tests/unit/test_simulator_faults.py
    }
    assert covered == FAULTS


def test_marker_selects_fault_and_is_stripped(http: httpx.Client) -> None:
    assert post(http, "openai", text="[sim-fault:503] hi").status_code == 503
    response = post(http, "openai", text="[sim-chunks:1] hi")
    assert response.json()["choices"][0]["message"]["content"] == "Echo: hi"


def test_server_level_fault_with_times(http: httpx.Client, app: SimulatorApp) -> None:
    app.set_fault("429", times=1)
    assert post(http, "anthropic").status_code == 429
    assert post(http, "anthropic").status_code == 200


def test_header_beats_server_level_fault(http: httpx.Client, app: SimulatorApp) -> None:
    app.set_fault("500")
    assert post(http, "bedrock", fault="429").status_code == 429
    assert post(http, "bedrock").status_code == 500
    app.set_fault(None)
    assert post(http, "bedrock").status_code == 200


def test_fault_endpoint(http: httpx.Client) -> None:
    set_response = http.post("/_sim/fault", json={"fault": "502", "times": 2, "stall_seconds": 1})
    assert set_response.json() == {"fault": "502", "times": 2, "stall_seconds": 1.0}
    assert post(http, "openai").status_code == 502
    assert http.get("/_sim/fault").json()["times"] == 1
    assert post(http, "openai").status_code == 502
    assert post(http, "openai").status_code == 200
    assert http.post("/_sim/fault", json={"fault": "nope"}).status_code == 400


def test_unknown_fault_header_is_refused(http: httpx.Client) -> None:
    response = post(http, "openai", fault="nope")
    assert response.status_code == 400
    assert "unknown simulator fault" in response.text


def test_requests_are_recorded_and_reset(http: httpx.Client, app: SimulatorApp) -> None:
    post(http, "openai", text="first")
    post(http, "anthropic", fault="500")
    recorded = http.get("/_sim/requests").json()
    assert [r["vendor"] for r in recorded] == ["openai", "anthropic"]
    first = recorded[0]
    assert (first["method"], first["path"]) == ("POST", "/v1/chat/completions")
    assert first["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert first["json"]["messages"][0]["content"] == "first"
    assert recorded[1]["headers"]["x-sim-fault"] == "500"
    app.set_fault("500")
    assert http.post("/_sim/reset").json() == {"ok": True}
    assert http.get("/_sim/requests").json() == []
    assert http.get("/_sim/fault").json()["fault"] is None


def test_unparseable_body_is_recorded_raw(http: httpx.Client, app: SimulatorApp) -> None:
    response = http.post("/v1/chat/completions", content=b"{nope", headers=OPENAI_HEADERS)
    assert response.status_code == 400
    assert app.requests[-1]["json"] is None
    assert app.requests[-1]["body"] == "{nope"


def test_cli_refuses_public_bind() -> None:
    with pytest.raises(SystemExit):
        main(["--host", "0.0.0.0"])

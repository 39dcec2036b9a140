"""The Anthropic Messages dialect against golden files and the anthropic SDK's own types."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from anthropic.types.shared import ErrorResponse

from chunks import fold
from gateway import errors
from gateway.providers import anthropic as dialect
from gateway.providers import params, responses
from gateway.providers.anthropic.request import (
    ADAPTIVE_FROM,
    EFFORTS,
    endpoint,
    model_version,
)
from gateway.providers.spec import Dialect, ResponseMeta, Target, TokenUsage, UpstreamEvent
from gateway.schemas.openai import ChatCompletionRequest
from sdk_types import sdk_validate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "anthropic"
META = ResponseMeta(id="chatcmpl-test", created=1700000000, model="claude")
MODEL = "claude-sonnet-4-5-20250929"


def cases(suffix: str, prefix: str = "") -> list[str]:
    return sorted(p.name.removesuffix(suffix) for p in FIXTURES.glob(f"{prefix}*{suffix}"))


REQUEST_CASES = cases(".request.json")
RESPONSE_CASES = [c for c in cases(".response.json") if not c.startswith("error_")]
ERROR_CASES = cases(".response.json", prefix="error_")
STREAM_CASES = cases(".stream.jsonl")
FOLD_CASES = [c for c in STREAM_CASES if c in RESPONSE_CASES]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def stream_lines(case: str) -> list[dict[str, Any]]:
    return [
        json.loads(line) for line in (FIXTURES / f"{case}.stream.jsonl").read_text().splitlines()
    ]


def upstream_event(line: dict[str, Any]) -> UpstreamEvent:
    return UpstreamEvent(name=line["event"], data=json.dumps(line["data"]))


def target(**fields: Any) -> Target:
    values: dict[str, Any] = {
        "model": MODEL,
        "api_base": "https://api.anthropic.com",
        "api_key": "sk-ant-test",
    } | fields
    return Target(model_name="claude", provider="anthropic", dialect="anthropic", **values)


def chat(**kwargs: Any) -> ChatCompletionRequest:
    kwargs.setdefault("model", "claude")
    kwargs.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return ChatCompletionRequest.model_validate(kwargs)


def body(**kwargs: Any) -> dict[str, Any]:
    return dialect.build_request(chat(**kwargs), target()).body


def rejected(request: ChatCompletionRequest) -> errors.GatewayError:
    with pytest.raises(errors.InvalidRequestError) as caught:
        dialect.build_request(request, target())
    return caught.value


def chunk(line: dict[str, Any]) -> Any:
    return responses.chunk(META, line["delta"], line["finish_reason"])


def expect_error(error: errors.GatewayError, expected: dict[str, Any]) -> None:
    assert error.status == expected["status"]
    assert error.body()["error"] == {
        "message": expected["message"],
        "type": expected["type"],
        "param": None,
        "code": expected["code"],
    }
    assert error.headers == expected["headers"]


# ---- the SDK's view of the API ------------------------------------------------------------
#
# We send anthropic-version 2023-06-01, which has temperature and top_p; the installed
# SDK (2.x) types API version 2026-10-21, which removed them. Those two are checked here,
# everything else by the SDK.
SAMPLING_2023_06_01 = ("temperature", "top_p")


def sdk_validate_request(body: dict[str, Any], stream: bool) -> None:
    rest = {k: v for k, v in body.items() if k not in SAMPLING_2023_06_01}
    for name in SAMPLING_2023_06_01:
        if name in body:
            assert isinstance(body[name], (int, float)), name
            assert 0 <= body[name] <= 1, name
    tp = MessageCreateParamsStreaming if stream else MessageCreateParamsNonStreaming
    sdk_validate(tp, rest)


VALID = {"model": MODEL, "max_tokens": 8, "messages": [{"role": "user", "content": "Hi"}]}


@pytest.mark.parametrize(
    "bad",
    [
        {**VALID, "max_tokens_to_sample": 8},
        {**VALID, "stop": ["x"]},
        {**VALID, "messages": [{"role": "user", "content": [{"type": "text", "txt": "Hi"}]}]},
        {
            **VALID,
            "messages": [{"role": "user", "content": [{"type": "text", "text": "a", "x": 1}]}],
        },
        {**VALID, "messages": [{"role": "tool", "content": "Hi"}]},
        {
            **VALID,
            "messages": [
                {
                    "role": "user",
                    "content": [{"type": "image", "source": {"type": "url", "uri": "https://a"}}],
                }
            ],
        },
        {**VALID, "tool_choice": {"type": "required"}},
        {**VALID, "tools": [{"name": "f", "parameters": {"type": "object"}}]},
        {**VALID, "thinking": {"type": "enabled", "budget": 1024}},
        {**VALID, "stream": True},
    ],
)
def test_sdk_validator_rejects_an_invalid_body(bad: dict[str, Any]) -> None:
    sdk_validate(MessageCreateParamsNonStreaming, VALID)
    with pytest.raises(pydantic.ValidationError):
        sdk_validate(MessageCreateParamsNonStreaming, bad)


def test_sdk_validator_rejects_an_invented_response_field() -> None:
    message = load("plain_text.response.json")["anthropic"]
    sdk_validate(Message, message)
    with pytest.raises(pydantic.ValidationError):
        sdk_validate(Message, message | {"usage": message["usage"] | {"cached_tokens": 0}})
    with pytest.raises(pydantic.ValidationError):
        sdk_validate(Message, message | {"content": [{"type": "text", "content": "Hi"}]})


def test_a_plain_type_adapter_would_miss_nested_mistakes() -> None:
    # Why sdk_validator exists: the default adapter accepts this nested invention.
    bad = {**VALID, "messages": [{"role": "user", "content": [{"type": "txt"}]}]}
    pydantic.TypeAdapter(MessageCreateParamsNonStreaming).validate_python(bad)
    with pytest.raises(pydantic.ValidationError):
        sdk_validate(MessageCreateParamsNonStreaming, bad)


# ---- requests ---------------------------------------------------------------------------


def golden_request(case: str, stream: bool) -> tuple[Any, dict[str, Any]]:
    golden = load(f"{case}.request.json")
    request = chat(**{**golden["openai"], "stream": stream})
    upstream = dialect.build_request(request, target(**golden["target"]))
    return upstream, golden["anthropic"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_golden(case: str, stream: bool) -> None:
    upstream, expected = golden_request(case, stream)
    assert upstream.url == expected["url"]
    assert upstream.headers == expected["headers"]
    assert upstream.body == expected["body"] | ({"stream": True} if stream else {})
    assert upstream.stream is stream
    assert upstream.framing == "sse"
    assert list(upstream.dropped_params) == expected["dropped_params"]


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_body_is_valid_for_the_sdk(case: str, stream: bool) -> None:
    upstream, _ = golden_request(case, stream)
    sdk_validate_request(upstream.body, stream)


@pytest.mark.parametrize(
    "api_base",
    [
        "https://api.anthropic.com",
        "https://api.anthropic.com/",
        "https://api.anthropic.com/v1",
        "https://api.anthropic.com/v1/",
        "https://api.anthropic.com/v1/messages",
    ],
)
def test_api_base_with_or_without_the_endpoint_path(api_base: str) -> None:
    assert endpoint(api_base) == "https://api.anthropic.com/v1/messages"


def test_params_start_from_translated_defaults() -> None:
    changed = {k for k, v in dialect.PARAMS.items() if params.TRANSLATED_DEFAULTS.get(k) is not v}
    assert changed == {"user"}
    assert dialect.PARAMS["user"] is params.Support.MAPPED


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"logprobs": True}, "logprobs"),
        ({"n": 2}, "n"),
        ({"modalities": ["text", "audio"]}, "modalities"),
        ({"functions": [{"name": "f"}]}, "functions"),
        ({"top_k": 5}, "top_k"),  # not an OpenAI parameter: unknown means rejected
        ({"response_format": {"type": "json_object"}}, "response_format"),
        (
            {"response_format": {"type": "json_schema", "json_schema": {"name": "x"}}},
            "response_format",
        ),
        ({"temperature": 1.5}, "temperature"),
    ],
)
def test_rejected_params(kwargs: dict[str, Any], param: str) -> None:
    assert rejected(chat(**kwargs)).param == param


def test_dropped_params_are_named() -> None:
    request = chat(seed=1, frequency_penalty=0.1, logit_bias={"1": 2}, metadata={"k": "v"})
    upstream = dialect.build_request(request, target())
    assert upstream.dropped_params == ("frequency_penalty", "logit_bias", "metadata", "seed")
    assert set(upstream.body) == {"model", "max_tokens", "messages"}


def test_text_response_format_is_the_default() -> None:
    assert "output_config" not in body(response_format={"type": "text"})


@pytest.mark.parametrize(
    ("model", "version", "max_tokens"),
    [
        ("claude-3-haiku-20240307", (3, 0), 4096),
        ("claude-3-opus-latest", (3, 0), 4096),
        ("claude-3-5-haiku-20241022", (3, 5), 8192),
        ("claude-3-7-sonnet-20250219", (3, 7), 8192),
        ("claude-opus-4-20250514", (4, 0), 8192),
        ("claude-opus-4-1-20250805", (4, 1), 8192),
        ("claude-sonnet-4-6", (4, 6), 8192),
        ("claude-opus-4-7", (4, 7), 16384),
        ("claude-fable-5-1", (5, 1), 16384),
        ("claude-mythos-preview", None, 8192),
    ],
)
def test_model_generations(model: str, version: Any, max_tokens: int) -> None:
    assert model_version(model) == version
    assert dialect.build_request(chat(), target(model=model)).body["max_tokens"] == max_tokens


def test_client_limit_wins_over_config() -> None:
    upstream = dialect.build_request(chat(max_tokens=50), target(extra={"max_tokens": 999}))
    assert upstream.body["max_tokens"] == 50
    upstream = dialect.build_request(chat(max_tokens=50, max_completion_tokens=70), target())
    assert upstream.body["max_tokens"] == 70


# ---- reasoning ------------------------------------------------------------------------


@pytest.mark.parametrize(("effort", "budget"), sorted(params.THINKING_BUDGETS.items()))
def test_reasoning_budget_map(effort: str, budget: int) -> None:
    sent = body(reasoning_effort=effort)
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": budget}
    assert sent["max_tokens"] == budget + 8192  # room for the answer
    assert budget >= 1024


def test_reasoning_budget_stays_below_the_client_limit() -> None:
    sent = body(reasoning_effort="xhigh", max_tokens=3000)
    assert sent["max_tokens"] == 3000
    assert sent["thinking"] == {"type": "enabled", "budget_tokens": 2999}
    assert rejected(chat(reasoning_effort="low", max_tokens=1024)).param == "reasoning_effort"


def test_reasoning_none_disables_thinking() -> None:
    sent = body(reasoning_effort="none", temperature=0.3)
    assert sent["thinking"] == {"type": "disabled"}
    assert sent["temperature"] == 0.3


def test_thinking_drops_the_sampling_it_forbids() -> None:
    upstream = dialect.build_request(
        chat(reasoning_effort="low", temperature=0.2, top_p=0.5), target()
    )
    assert upstream.dropped_params == ("temperature", "top_p")
    assert "temperature" not in upstream.body
    assert "top_p" not in upstream.body
    kept = body(reasoning_effort="low", temperature=1, top_p=0.95)
    assert (kept["temperature"], kept["top_p"]) == (1, 0.95)


@pytest.mark.parametrize("model", [MODEL, "claude-opus-4-7"])
@pytest.mark.parametrize(
    "choice", ["required", {"type": "function", "function": {"name": "get_time"}}]
)
def test_thinking_rejects_a_forced_tool_choice(choice: Any, model: str) -> None:
    request = chat(reasoning_effort="low", tools=[TOOL], tool_choice=choice)
    with pytest.raises(errors.InvalidRequestError) as caught:
        dialect.build_request(request, target(model=model))
    assert caught.value.param == "tool_choice"


ADAPTIVE_MODEL = "claude-opus-4-7"


@pytest.mark.parametrize(("effort", "level"), sorted(EFFORTS.items()))
def test_adaptive_generation_takes_an_effort(effort: str, level: str) -> None:
    upstream = dialect.build_request(
        chat(reasoning_effort=effort, max_tokens=2000), target(model=ADAPTIVE_MODEL)
    )
    assert upstream.body["thinking"] == {"type": "adaptive"}
    assert upstream.body["output_config"] == {"effort": level}
    assert upstream.body["max_tokens"] == 2000
    sdk_validate_request(upstream.body, stream=False)


def test_adaptive_generation_drops_sampling_and_keeps_its_thinking_default() -> None:
    upstream = dialect.build_request(
        chat(reasoning_effort="none", temperature=1, top_p=1), target(model=ADAPTIVE_MODEL)
    )
    assert upstream.dropped_params == ("temperature", "top_p")
    assert {"thinking", "temperature", "top_p", "output_config"}.isdisjoint(upstream.body)
    assert model_version(ADAPTIVE_MODEL) == ADAPTIVE_FROM


def test_effort_and_structured_output_share_output_config() -> None:
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object"}}}
    upstream = dialect.build_request(
        chat(reasoning_effort="low", response_format=fmt), target(model=ADAPTIVE_MODEL)
    )
    assert upstream.body["output_config"] == {
        "effort": "low",
        "format": {"type": "json_schema", "schema": {"type": "object"}},
    }


# ---- tools -------------------------------------------------------------------------------

TOOL = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, None),
        ({"tool_choice": "auto"}, {"type": "auto"}),
        ({"tool_choice": "none"}, {"type": "none"}),
        ({"tool_choice": "required"}, {"type": "any"}),
        (
            {"tool_choice": {"type": "function", "function": {"name": "get_time"}}},
            {"type": "tool", "name": "get_time"},
        ),
        ({"parallel_tool_calls": False}, {"type": "auto", "disable_parallel_tool_use": True}),
        ({"parallel_tool_calls": True}, None),
        (
            {"tool_choice": "required", "parallel_tool_calls": False},
            {"type": "any", "disable_parallel_tool_use": True},
        ),
        ({"tool_choice": "none", "parallel_tool_calls": False}, {"type": "none"}),
    ],
)
def test_tool_choice(kwargs: dict[str, Any], expected: dict[str, Any] | None) -> None:
    sent = body(tools=[TOOL], **kwargs)
    assert sent.get("tool_choice") == expected
    sdk_validate_request(sent, stream=False)


def test_tool_choice_without_tools_is_moot() -> None:
    assert "tool_choice" not in body(tool_choice="none", parallel_tool_calls=False)


def test_tool_without_parameters_gets_an_empty_object_schema() -> None:
    tool = {"type": "function", "function": {"name": "ping"}}
    assert body(tools=[tool])["tools"] == [
        {"name": "ping", "input_schema": {"type": "object", "properties": {}}}
    ]


def assistant_call(arguments: str) -> list[dict[str, Any]]:
    call = {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": arguments}}
    return [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
    ]


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", "42"])
def test_invalid_tool_arguments_name_the_call(arguments: str) -> None:
    error = rejected(chat(messages=assistant_call(arguments)))
    assert error.param == "messages[1].tool_calls[0].function.arguments"


def test_empty_tool_arguments_are_an_empty_object() -> None:
    turn = body(messages=assistant_call(""))["messages"][1]
    assert turn == {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}],
    }


# ---- content parts -----------------------------------------------------------------------


def user_parts(*parts: dict[str, Any]) -> ChatCompletionRequest:
    return chat(messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}, *parts]}])


def image(url: str) -> dict[str, Any]:
    return {"type": "image_url", "image_url": {"url": url}}


@pytest.mark.parametrize(
    ("part", "param"),
    [
        (image("data:image/bmp;base64,Qk0="), "messages[0].content[1].image_url.url"),
        (image("data:image/png,rawbytes"), "messages[0].content[1].image_url.url"),
        (image("ftp://example.com/a.png"), "messages[0].content[1].image_url.url"),
        (
            {"type": "input_audio", "input_audio": {"data": "AAA=", "format": "wav"}},
            "messages[0].content[1]",
        ),
        ({"type": "file", "file": {"file_id": "file-1"}}, "messages[0].content[1]"),
    ],
)
def test_unsupported_parts_name_the_param(part: dict[str, Any], param: str) -> None:
    assert rejected(user_parts(part)).param == param


@pytest.mark.parametrize("media_type", ["image/jpeg", "image/png", "image/gif", "image/webp"])
def test_supported_image_media_types(media_type: str) -> None:
    sent = dialect.build_request(user_parts(image(f"data:{media_type};base64,AAAA")), target())
    source = sent.body["messages"][0]["content"][1]["source"]
    assert source == {"type": "base64", "media_type": media_type, "data": "AAAA"}


def test_system_content_must_be_text() -> None:
    request = chat(
        messages=[
            {"role": "system", "content": [image("https://example.com/a.png")]},
            {"role": "user", "content": "Hi"},
        ]
    )
    assert rejected(request).param == "messages[0].content[0]"


def test_system_messages_alone_are_refused_before_any_call() -> None:
    request = chat(messages=[{"role": "system", "content": "Be brief."}])
    assert dialect.NEEDS_A_TURN
    assert rejected(request).param == "messages"


def test_assistant_refusal_is_replayed_as_text() -> None:
    sent = body(
        messages=[
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": None, "refusal": "I can't help with that."},
            {"role": "user", "content": "Why?"},
        ]
    )
    assert sent["messages"][1]["content"] == [{"type": "text", "text": "I can't help with that."}]


# ---- responses ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_response_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    completion = dialect.parse_response(json.dumps(golden["anthropic"]).encode(), META)
    assert completion.response == golden["openai"]
    assert completion.usage == TokenUsage(**golden["usage"])


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_response_fixture_matches_the_sdk(case: str) -> None:
    sdk_validate(Message, load(f"{case}.response.json")["anthropic"])


@pytest.mark.parametrize("raw", [b"not json", b"[]", b'{"type": "message"}'])
def test_unusable_response_is_a_provider_failure(raw: bytes) -> None:
    with pytest.raises(errors.UpstreamError):
        dialect.parse_response(raw, META)


def test_unknown_stop_reason_maps_to_stop() -> None:
    raw = load("plain_text.response.json")["anthropic"] | {"stop_reason": "something_new"}
    completion = dialect.parse_response(json.dumps(raw).encode(), META)
    assert completion.response["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "length"),
        ("model_context_window_exceeded", "length"),
    ],
)
def test_finish_reasons(reason: str, expected: str) -> None:
    assert dialect.FINISH_REASONS[reason] == expected


# ---- streams -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_golden(case: str) -> None:
    state = dialect.new_stream_state(META)
    for line in stream_lines(case):
        if "end" in line:
            end = line["end"]
            if "raises" in end:
                with pytest.raises(errors.GatewayError) as caught:
                    dialect.finish_stream(state)
                expect_error(caught.value, end["raises"])
            else:
                assert dialect.finish_stream(state) == []
                assert state.usage == TokenUsage(**end["usage"])
            return
        if "raises" in line:
            with pytest.raises(errors.GatewayError) as caught:
                dialect.parse_stream_event(state, upstream_event(line))
            expect_error(caught.value, line["raises"])
            return
        produced = dialect.parse_stream_event(state, upstream_event(line))
        assert produced == [chunk(c) for c in line.get("chunks", [])], line["event"]
    pytest.fail("a stream fixture ends with an 'end' line or an event that raises")


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_fixture_matches_the_sdk(case: str) -> None:
    for line in stream_lines(case):
        if "event" not in line:
            continue
        data = line["data"]
        assert line["event"] == data["type"]
        if data["type"] == "error":
            sdk_validate(ErrorResponse, data)
        elif data["type"] != "ping":  # documented, but not in the SDK's event union
            sdk_validate(RawMessageStreamEvent, data)


@pytest.mark.parametrize("case", FOLD_CASES)
def test_stream_concatenates_to_the_response(case: str) -> None:
    state = dialect.new_stream_state(META)
    chunks = [
        c
        for line in stream_lines(case)
        if "event" in line
        for c in dialect.parse_stream_event(state, upstream_event(line))
    ]
    chunks += dialect.finish_stream(state)
    golden = load(f"{case}.response.json")
    completion = dialect.parse_response(json.dumps(golden["anthropic"]).encode(), META)
    expected = completion.response["choices"][0]
    assert fold(chunks) == {
        "message": expected["message"],
        "finish_reason": expected["finish_reason"],
    }
    assert state.usage == completion.usage
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "finish_reason": expected["finish_reason"],
        "logprobs": None,
    }


def run(events: list[dict[str, Any]]) -> tuple[Any, list[Any]]:
    state = dialect.new_stream_state(META)
    out: list[Any] = []
    for data in events:
        out += dialect.parse_stream_event(state, UpstreamEvent(data["type"], json.dumps(data)))
    return state, out


START = stream_lines("plain_text")[0]["data"]
STOP_REASON = {
    "type": "message_delta",
    "delta": {"stop_reason": "end_turn"},
    "usage": {"output_tokens": 3},
}


def test_stream_without_message_stop_is_not_a_success() -> None:
    state, _ = run([START, STOP_REASON])
    with pytest.raises(errors.UpstreamError):
        dialect.finish_stream(state)


def test_message_stop_without_a_stop_reason_is_not_a_success() -> None:
    with pytest.raises(errors.UpstreamError):
        run([START, {"type": "message_stop"}])


def test_unknown_events_and_deltas_are_ignored() -> None:
    _, out = run(
        [
            START,
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {
                    "type": "server_tool_use",
                    "id": "srvtoolu_1",
                    "name": "web_search",
                    "input": {},
                },
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": '{"q": 1}'},
            },
            {"type": "content_block_delta", "index": 0, "delta": {"type": "something_new"}},
            {"type": "brand_new_event"},
        ]
    )
    assert len(out) == 1  # the role chunk


def test_tool_call_without_arguments_streams_an_empty_object() -> None:
    _, out = run(
        [
            START,
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": "get_time",
                    "input": {},
                },
            },
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": ""},
            },
            {"type": "content_block_stop", "index": 0},
        ]
    )
    assert [c["choices"][0]["delta"] for c in out[1:]] == [
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "toolu_1",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": ""},
                }
            ]
        },
        {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]},
    ]


def test_message_delta_usage_is_cumulative() -> None:
    later = {
        "type": "message_delta",
        "delta": {"stop_reason": "end_turn"},
        "usage": {"input_tokens": 20, "cache_read_input_tokens": 5, "output_tokens": 9},
    }
    state, _ = run([START, STOP_REASON, later])
    assert state.usage == TokenUsage(input_tokens=25, output_tokens=9, cache_read_tokens=5)


def test_malformed_stream_event_is_a_provider_failure() -> None:
    state = dialect.new_stream_state(META)
    with pytest.raises(errors.UpstreamError):
        dialect.parse_stream_event(state, UpstreamEvent("message_start", "{not json"))


def test_stream_state_is_a_stream_state_dataclass() -> None:
    state = dialect.new_stream_state(META)
    assert dataclasses.is_dataclass(state)
    assert isinstance(state, dialect.AnthropicStreamState)


# ---- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    raw = golden["anthropic"]
    payload = raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()
    expect_error(dialect.map_error(golden["status"], payload, golden["headers"]), golden["error"])


@pytest.mark.parametrize("case", [c for c in ERROR_CASES if c != "error_not_json"])
def test_error_fixture_matches_the_sdk(case: str) -> None:
    sdk_validate(ErrorResponse, load(f"{case}.response.json")["anthropic"])


def test_every_error_type_maps_to_a_gateway_error() -> None:
    for kind, cls in dialect.ERRORS.items():
        data = {"type": "error", "error": {"type": kind, "message": "m"}}
        error = dialect.map_error(400, json.dumps(data).encode(), {})
        assert type(error) is cls, kind
        assert error.status < 600


def test_request_too_large_and_billing() -> None:
    large = {
        "type": "error",
        "error": {
            "type": "request_too_large",
            "message": "Request exceeds the maximum allowed number of bytes.",
        },
    }
    assert (
        type(dialect.map_error(413, json.dumps(large).encode(), {})) is errors.RequestTooLargeError
    )
    billing = {
        "type": "error",
        "error": {"type": "billing_error", "message": "Your credit balance is too low."},
    }
    assert dialect.map_error(402, json.dumps(billing).encode(), {}).status == 502


def test_unknown_error_type_falls_back_to_status() -> None:
    data = {"type": "error", "error": {"type": "conflict_error", "message": "busy"}}
    assert type(dialect.map_error(409, json.dumps(data).encode(), {})) is errors.InvalidRequestError
    state, _ = run([START])
    with pytest.raises(errors.UpstreamError):
        dialect.parse_stream_event(state, UpstreamEvent("error", json.dumps(data)))


def test_module_satisfies_the_dialect_protocol() -> None:
    conforming: Dialect = dialect
    for name in (
        "build_request",
        "parse_response",
        "new_stream_state",
        "parse_stream_event",
        "finish_stream",
        "map_error",
    ):
        assert callable(getattr(conforming, name))

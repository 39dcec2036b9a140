"""Anthropic Messages <-> chat translation, against golden files and the anthropic SDK's types."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_args

import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, RawMessageStreamEvent
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from anthropic.types.stop_reason import StopReason
from openai.types.chat.completion_create_params import CompletionCreateParamsBase

from gateway import errors
from gateway.messages import from_chat
from gateway.messages.fold import fold
from gateway.messages.support import refuse_betas, untranslatable
from gateway.messages.to_chat import to_chat
from gateway.providers import responses, sse
from gateway.providers.responses import usage_in
from gateway.providers.spec import ResponseMeta, TokenUsage
from gateway.schemas.anthropic import MessagesRequest, validate_messages
from gateway.schemas.openai import ChatCompletionRequest, FinishReason
from sdk_types import sdk_validate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "messages"
MESSAGE_ID = "msg_01XFDUDYJgAACzvnptvVoYEL"


def cases(suffix: str) -> list[str]:
    return sorted(p.name.removesuffix(suffix) for p in FIXTURES.glob(f"*{suffix}"))


REQUEST_CASES = cases(".request.json")
ANSWER_CASES = cases(".completion.json")
STREAM_CASES = cases(".chunks.jsonl")


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def lines(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def request(**fields: Any) -> MessagesRequest:
    body: dict[str, Any] = {
        "model": "gpt-4o",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    return validate_messages(body | fields)


def chat(**fields: Any) -> dict[str, Any]:
    return to_chat(request(**fields)).model_dump(mode="json", exclude_none=True, by_alias=True)


def model_of(case: str) -> str:
    return str(load(f"{case}.request.json")["model"])


def stream(chunks: list[Any], usage: TokenUsage | None = None) -> list[dict[str, Any]]:
    state = from_chat.start(MESSAGE_ID, "gpt-4o")
    events = [event for chunk in chunks for event in from_chat.events_for(state, chunk)]
    return events + from_chat.end(state, usage)


def chunks_of(completion: dict[str, Any], size: int) -> list[Any]:
    """What the chat pipeline streams for `completion`: text cut into `size` pieces, each
    tool call's first fragment in the chunk that names it, the usage chunk last."""
    meta = ResponseMeta(completion["id"], completion["created"], completion["model"])
    choice = completion["choices"][0]
    message = choice["message"]

    def pieces(text: str) -> list[str]:
        return [text[i : i + size] for i in range(0, len(text), size)]

    out = [responses.chunk(meta, {"role": "assistant", "content": ""})]
    out += [
        responses.chunk(meta, {"reasoning_content": p})
        for p in pieces(message.get("reasoning_content") or "")
    ]
    out += [responses.chunk(meta, {"content": p}) for p in pieces(message.get("content") or "")]
    for index, call in enumerate(message.get("tool_calls") or []):
        first, *rest = pieces(call["function"]["arguments"]) or [""]
        named = {"index": index, "id": call["id"], "type": "function"}
        named["function"] = {"name": call["function"]["name"], "arguments": first}
        out.append(responses.chunk(meta, {"tool_calls": [named]}))
        for fragment in rest:
            delta = {"index": index, "function": {"arguments": fragment}}
            out.append(responses.chunk(meta, {"tool_calls": [delta]}))
    out.append(responses.chunk(meta, {}, choice["finish_reason"]))
    usage = usage_in(completion.get("usage"))
    return [*out, responses.usage_chunk(meta, usage)]


# ---- requests --------------------------------------------------------------------------


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_fixtures_are_real_messages_requests(case: str) -> None:
    body = load(f"{case}.request.json")
    body["metadata"] = {k: v for k, v in body.get("metadata", {}).items() if k != "tags"}
    # Sampling knobs that models before Claude 4.7 take; this SDK no longer types them.
    # Tags are the gateway's extension.
    for name in ("temperature", "top_p", "top_k"):
        body.pop(name, None)
    params = MessageCreateParamsStreaming if body.get("stream") else MessageCreateParamsNonStreaming
    sdk_validate(params, body)


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_to_chat_matches_golden(case: str) -> None:
    parsed = validate_messages(load(f"{case}.request.json"))
    assert untranslatable(parsed) is None
    translated = to_chat(parsed).model_dump(mode="json", exclude_none=True, by_alias=True)
    assert translated == load(f"{case}.chat.json")
    # The chat request is one the OpenAI SDK would send, but for the gateway's `metadata`
    # (stripped before OpenAI upstreams).
    openai_body = {k: v for k, v in translated.items() if k != "metadata"}
    sdk_validate(CompletionCreateParamsBase, openai_body, strict=False)
    assert ChatCompletionRequest.model_validate(translated) == to_chat(parsed)


def test_system_blocks_join_and_cache_control_is_ignored() -> None:
    system = [
        {"type": "text", "text": "One.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
        {"type": "text", "text": "Two."},
    ]
    out = request(system=system, cache_control={"type": "ephemeral"})
    assert untranslatable(out) is None
    assert chat(system=system)["messages"][0] == {"role": "system", "content": "One.\n\nTwo."}


def test_tool_results_come_before_the_rest_of_their_turn() -> None:
    content = [
        {"type": "text", "text": "Before."},
        {"type": "tool_result", "tool_use_id": "toolu_1", "content": "one"},
        {"type": "tool_result", "tool_use_id": "toolu_2"},
    ]
    history = [
        {"role": "user", "content": "Go"},
        {
            "role": "assistant",
            "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "a", "input": {}},
                {"type": "tool_use", "id": "toolu_2", "name": "a", "input": {"n": [1, "é"]}},
            ],
        },
        {"role": "user", "content": content},
    ]
    messages = chat(messages=history)["messages"]
    assert "content" not in messages[1]  # None: only tool calls
    assert [call["function"]["arguments"] for call in messages[1]["tool_calls"]] == [
        "{}",
        '{"n":[1,"é"]}',
    ]
    assert messages[2:] == [
        {"role": "tool", "tool_call_id": "toolu_1", "content": "one"},
        {"role": "tool", "tool_call_id": "toolu_2", "content": ""},
        {"role": "user", "content": [{"type": "text", "text": "Before."}]},
    ]


def test_empty_turns_still_translate() -> None:
    turns = [{"role": "user", "content": []}, {"role": "assistant", "content": []}]
    assert chat(messages=turns)["messages"] == [
        {"role": "user", "content": []},
        {"role": "assistant", "content": ""},
    ]


def test_a_result_s_images_follow_in_a_user_message() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    text = {"type": "text", "text": "a chart"}
    result = {"type": "tool_result", "tool_use_id": "t", "content": [text, image], "is_error": True}
    messages = chat(
        messages=[{"role": "user", "content": [result, {"type": "text", "text": "after"}]}]
    )["messages"]
    assert messages == [
        {"role": "tool", "tool_call_id": "t", "content": "Error: a chart"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Images returned by tool call t:"},
                {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                {"type": "text", "text": "after"},
            ],
        },
    ]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ({"type": "auto"}, {"tool_choice": "auto"}),
        ({"type": "any"}, {"tool_choice": "required"}),
        ({"type": "none"}, {"tool_choice": "none"}),
        (
            {"type": "tool", "name": "f", "disable_parallel_tool_use": True},
            {
                "tool_choice": {"type": "function", "function": {"name": "f"}},
                "parallel_tool_calls": False,
            },
        ),
        ({"type": "any", "disable_parallel_tool_use": False}, {"tool_choice": "required"}),
    ],
)
def test_tool_choice(choice: dict[str, Any], expected: dict[str, Any]) -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}}]
    out = chat(tools=tools, tool_choice=choice)
    assert {k: out[k] for k in ("tool_choice", "parallel_tool_calls") if k in out} == expected


@pytest.mark.parametrize(
    ("fields", "effort"),
    [
        ({"thinking": {"type": "enabled", "budget_tokens": 1024}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2047}}, "low"),
        ({"thinking": {"type": "enabled", "budget_tokens": 2048}}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 4095}}, "medium"),
        ({"thinking": {"type": "enabled", "budget_tokens": 4096}}, "high"),
        ({"thinking": {"type": "enabled", "budget_tokens": 31999}}, "high"),
        ({"thinking": {"type": "adaptive"}}, "medium"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "low"}}, "low"),
        ({"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, "xhigh"),
        ({"output_config": {"effort": "high"}}, "high"),
        ({"thinking": {"type": "disabled"}, "output_config": {"effort": "high"}}, None),
        ({}, None),
    ],
)
def test_thinking_maps_to_reasoning_effort(fields: dict[str, Any], effort: str | None) -> None:
    assert chat(**fields).get("reasoning_effort") == effort


def test_sampling_output_format_and_system_turns() -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    out = chat(
        messages=[
            {"role": "system", "content": [{"type": "text", "text": "Be terse."}]},
            {"role": "user", "content": "Hi"},
        ],
        output_config={"format": {"type": "json_schema", "schema": schema}},
        service_tier="standard_only",
    )
    assert out["messages"][0] == {"role": "system", "content": "Be terse."}
    assert out["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": schema, "strict": True},
    }
    assert "service_tier" not in out
    assert "stream" not in out


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"container": "container_123"}, "container"),
        (
            {"mcp_servers": [{"type": "url", "url": "https://mcp.example.com", "name": "x"}]},
            "mcp_servers",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "Summarise"},
                            {
                                "type": "document",
                                "source": {
                                    "type": "text",
                                    "media_type": "text/plain",
                                    "data": "Hi",
                                },
                            },
                        ],
                    }
                ]
            },
            "messages[0].content[1]",
        ),
        (
            {"tools": [{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}]},
            "tools[0]",
        ),
        (
            {"messages": [{"role": "user", "content": [{"type": "search_result", "source": "x"}]}]},
            "messages[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "image", "source": {"type": "file", "file_id": "file_1"}}
                        ],
                    }
                ]
            },
            "messages[0].content[0].source",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {
                                "type": "tool_result",
                                "tool_use_id": "t",
                                "content": [{"type": "tool_reference", "tool_name": "x"}],
                            }
                        ],
                    }
                ]
            },
            "messages[0].content[0].content[0]",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": {}}],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
        ({"thinking": {"type": "between_tools"}}, "thinking.type"),
        (
            {"thinking": {"type": "enabled", "budget_tokens": 2048, "display": "omitted"}},
            "thinking.display",
        ),
        (
            {"tools": [{"name": "f", "input_schema": {"type": "object"}, "defer_loading": True}]},
            "tools[0].defer_loading",
        ),
    ],
)
def test_untranslatable_features_are_named(fields: dict[str, Any], param: str) -> None:
    problem = untranslatable(request(**fields))
    assert isinstance(problem, errors.UnsupportedParameterError)
    assert problem.param == param
    assert problem.status == 400
    to_chat(request(**fields))  # still total


def test_hints_are_not_untranslatable() -> None:
    tools = [{"name": "f", "input_schema": {"type": "object"}, "eager_input_streaming": True}]
    assert untranslatable(request(tools=tools)) is None


def test_betas() -> None:
    refuse_betas([])
    refuse_betas(
        [
            "claude-code-20250219,interleaved-thinking-2025-05-14",
            " fine-grained-tool-streaming-2025-05-14",
        ]
    )
    with pytest.raises(errors.UnsupportedParameterError) as raised:
        refuse_betas(["claude-code-20250219", "context-1m-2025-08-07"])
    assert raised.value.param == "anthropic-beta"
    assert "context-1m-2025-08-07" in raised.value.message
    assert "cannot be honoured by this model's provider" in raised.value.message


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"stream": "yes"}, "stream"),
        ({"max_tokens": "5"}, "max_tokens"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"messages": []}, "messages"),
        ({"temperature": 1.5}, "temperature"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].role"),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "text", "text": "Hi"},
                            {
                                "type": "image",
                                "source": {
                                    "type": "base64",
                                    "media_type": "image/bmp",
                                    "data": "x",
                                },
                            },
                        ],
                    }
                ]
            },
            "messages[0].content[1].source.media_type",
        ),
        (
            {
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "image"}]}
                ]
            },
            "messages[0].content[1].source",
        ),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [{"type": "tool_use", "id": "t", "name": "f", "input": "{}"}],
                    }
                ]
            },
            "messages[0].content[0].input",
        ),
        (
            {
                "messages": [
                    {
                        "role": "user",
                        "content": [
                            {"type": "tool_result", "tool_use_id": "t", "is_error": "true"}
                        ],
                    }
                ]
            },
            "messages[0].content[0].is_error",
        ),
        ({"thinking": {"type": "enabled", "budget_tokens": 512}}, "thinking.budget_tokens"),
        ({"tool_choice": {"type": "tool"}}, "tool_choice.name"),
        ({"tool_choice": {"type": "sometimes"}}, "tool_choice"),
        ({"tools": [{"name": "f"}]}, "tools[0].input_schema"),
        ({"system": [{"type": "text", "text": 1}]}, "system[0].text"),
        ({"metadata": {"user_id": 42}}, "metadata.user_id"),
        ({"stop_sequences": "END"}, "stop_sequences"),
    ],
)
def test_validation_names_the_field(fields: dict[str, Any], param: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as raised:
        request(**fields)
    assert raised.value.param == param
    assert raised.value.status == 400


# ---- answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("case", ANSWER_CASES)
def test_message_matches_golden(case: str) -> None:
    message = from_chat.message_from_completion(
        load(f"{case}.completion.json"), message_id=MESSAGE_ID, model=model_of(case)
    )
    assert message == load(f"{case}.message.json")
    sdk_validate(Message, message)


@pytest.mark.parametrize("case", STREAM_CASES)
def test_events_match_golden(case: str) -> None:
    state = from_chat.start(MESSAGE_ID, model_of(case))
    events = [
        e for chunk in lines(f"{case}.chunks.jsonl") for e in from_chat.events_for(state, chunk)
    ]
    events += from_chat.end(state, None)
    assert events == lines(f"{case}.events.jsonl")
    for event in events:
        sdk_validate(RawMessageStreamEvent, event)


@pytest.mark.parametrize("case", STREAM_CASES)
def test_folded_events_equal_the_message(case: str) -> None:
    events = lines(f"{case}.events.jsonl")
    assert fold(events) == load(f"{case}.message.json")
    # ... and the anthropic SDK's own accumulator reads the same Message.
    snapshot = None
    buffers: dict[int, bytes] = {}
    for event in events:
        snapshot = accumulate_event(event=event, current_snapshot=snapshot, json_bufs=buffers)
    assert snapshot is not None
    ours = Message.model_validate(fold(events))
    assert snapshot.to_dict(exclude_none=True) == ours.to_dict(exclude_none=True)


@pytest.mark.parametrize("case", ANSWER_CASES)
@pytest.mark.parametrize("size", [1, 3, 7, 10_000])
def test_any_chunking_folds_to_the_non_streamed_message(case: str, size: int) -> None:
    completion = load(f"{case}.completion.json")
    events = stream(chunks_of(completion, size))
    for event in events:
        sdk_validate(RawMessageStreamEvent, event)
    expected = from_chat.message_from_completion(completion, message_id=MESSAGE_ID, model="gpt-4o")
    assert fold(events) == expected


def test_fragments_in_the_naming_chunk_are_kept() -> None:
    meta = ResponseMeta("chatcmpl-1", 1, "m")
    call = {
        "index": 0,
        "id": "call_1",
        "type": "function",
        "function": {"name": "f", "arguments": '{"a": 1, "b": "x'},
    }
    chunks = [
        responses.chunk(meta, {"tool_calls": [call]}),
        responses.chunk(
            meta, {"tool_calls": [{"index": 0, "function": {"arguments": 'y"}'}}]}, "tool_calls"
        ),
    ]
    message = fold(stream(chunks))
    assert message["content"] == [
        {"type": "tool_use", "id": "call_1", "name": "f", "input": {"a": 1, "b": "xy"}}
    ]
    assert message["stop_reason"] == "tool_use"


def test_usage_given_at_the_end_wins_and_counts_cache_writes() -> None:
    meta = ResponseMeta("chatcmpl-1", 1, "m")
    usage = TokenUsage(
        input_tokens=100, output_tokens=7, cache_read_tokens=20, cache_write_tokens=30
    )
    events = stream([responses.chunk(meta, {"content": "Hi"}, "stop")], usage)
    assert events[0]["message"]["usage"] == {"input_tokens": 0, "output_tokens": 0}
    assert events[-2]["usage"] == {
        "input_tokens": 50,
        "cache_creation_input_tokens": 30,
        "cache_read_input_tokens": 20,
        "output_tokens": 7,
    }
    assert fold(events)["usage"]["input_tokens"] == 50


def test_an_empty_stream_still_makes_a_message() -> None:
    events = stream([])
    assert [e["type"] for e in events] == ["message_start", "message_delta", "message_stop"]
    for event in events:
        sdk_validate(RawMessageStreamEvent, event)
    assert fold(events)["content"] == []


def test_refusals_and_kinds_switching_open_new_blocks() -> None:
    meta = ResponseMeta("chatcmpl-1", 1, "m")
    chunks = [
        responses.chunk(meta, {"reasoning_content": "Hmm."}),
        responses.chunk(meta, {"content": "A"}),
        responses.chunk(meta, {"reasoning_content": " More."}),
        responses.chunk(meta, {"refusal": "No."}, "content_filter"),
    ]
    events = stream(chunks)
    starts = [e for e in events if e["type"] == "content_block_start"]
    assert [(e["index"], e["content_block"]["type"]) for e in starts] == [
        (0, "thinking"),
        (1, "text"),
        (2, "thinking"),
        (3, "text"),
    ]
    stops = [e["index"] for e in events if e["type"] == "content_block_stop"]
    assert stops == [0, 1, 2, 3]
    assert not any(e.get("delta", {}).get("type") == "signature_delta" for e in events)
    assert fold(events)["stop_reason"] == "refusal"


def test_interleaved_tool_arguments_are_an_upstream_error() -> None:
    meta = ResponseMeta("chatcmpl-1", 1, "m")
    first = {"index": 0, "id": "a", "type": "function", "function": {"name": "f", "arguments": "{"}}
    second = {
        "index": 1,
        "id": "b",
        "type": "function",
        "function": {"name": "f", "arguments": "{"},
    }
    late = {"index": 0, "function": {"arguments": "}"}}
    state = from_chat.start(MESSAGE_ID, "m")
    from_chat.events_for(state, responses.chunk(meta, {"tool_calls": [first]}))
    from_chat.events_for(state, responses.chunk(meta, {"tool_calls": [second]}))
    with pytest.raises(errors.UpstreamError):
        from_chat.events_for(state, responses.chunk(meta, {"tool_calls": [late]}))


@pytest.mark.parametrize("arguments", ["{not json", "[1, 2]", "null"])
def test_tool_arguments_that_are_not_a_json_object_are_an_upstream_error(arguments: str) -> None:
    completion = load("tools.completion.json")
    completion["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] = arguments
    with pytest.raises(errors.UpstreamError, match="not JSON"):
        from_chat.message_from_completion(completion, message_id=MESSAGE_ID, model="m")
    with pytest.raises(errors.UpstreamError, match="not JSON"):
        fold(stream(chunks_of(completion, 2)))


def test_stop_reasons_cover_every_finish_reason() -> None:
    assert set(from_chat.STOP_REASONS) == set(get_args(FinishReason))
    assert set(from_chat.STOP_REASONS.values()) <= set(get_args(StopReason))
    completion = load("plain_text.completion.json")
    completion["choices"][0]["finish_reason"] = "length"
    message = from_chat.message_from_completion(completion, message_id=MESSAGE_ID, model="m")
    assert message["stop_reason"] == "max_tokens"


def test_sse_event_framing() -> None:
    event = {
        "type": "content_block_delta",
        "index": 0,
        "delta": {"type": "text_delta", "text": "é\n"},
    }
    raw = sse.encode_event(event["type"], event)
    head, data, blank = raw.split(b"\n", 2)
    assert head == b"event: content_block_delta"
    assert json.loads(data.removeprefix(b"data: ")) == event
    assert blank == b"\n"

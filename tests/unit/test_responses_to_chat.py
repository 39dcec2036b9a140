"""Responses request -> chat translation, and what a chat provider cannot honour.

Every chat request built here is checked against the openai SDK's chat types (strictly)
and the gateway's ChatCompletionRequest, which to_chat returns.
"""

from __future__ import annotations

from typing import Any

import pytest
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from openai.types.responses import ResponseOutputItem

from gateway import errors
from gateway.responses.items import input_items
from gateway.responses.support import untranslatable
from gateway.responses.to_chat import to_chat
from gateway.schemas.openai import ChatCompletionRequest
from gateway.schemas.responses import ResponsesRequest, validate_responses
from sdk_types import sdk_validate

MODEL = "claude-sonnet"
FUNCTION = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
CHAT_FUNCTION = {
    "type": "function",
    "function": {k: v for k, v in FUNCTION.items() if k != "type"},
}
IMAGE_URL = "https://example.com/a.png"


def request(**fields: Any) -> ResponsesRequest:
    return validate_responses({"model": MODEL} | fields)


def dumped(chat: ChatCompletionRequest) -> dict[str, Any]:
    return chat.model_dump(mode="json", exclude_none=True, by_alias=True)


def translate(history: list[dict[str, Any]] | None = None, **fields: Any) -> dict[str, Any]:
    """The chat request for a translatable request, checked against the SDK's chat types."""
    parsed = request(**fields)
    items = [*(history or []), *input_items(parsed, "req1")]
    assert untranslatable(parsed, items, needs_a_turn=True) is None
    chat = to_chat(parsed, items)
    body = dumped(chat)
    params = (
        CompletionCreateParamsStreaming
        if body.get("stream")
        else CompletionCreateParamsNonStreaming
    )
    sdk_validate(params, body)
    assert ChatCompletionRequest.model_validate(body) == chat
    return body


def messages(*items: Any, **fields: Any) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = translate(input=list(items), **fields)["messages"]
    return result


def problem(history: list[dict[str, Any]] | None = None, **fields: Any) -> errors.GatewayError:
    parsed = request(**fields)
    items = [*(history or []), *input_items(parsed, "req1")]
    found = untranslatable(parsed, items, needs_a_turn=True)
    assert found is not None
    to_chat(parsed, items)  # the pipeline's view exists all the same (total translation)
    return found


# ---- messages ------------------------------------------------------------------------------


def test_instructions_lead_as_a_system_message() -> None:
    assert translate(input="Hi", instructions="Be brief.")["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


@pytest.mark.parametrize(
    ("item", "expected"),
    [
        ({"role": "system", "content": "Rules."}, {"role": "system", "content": "Rules."}),
        ({"role": "developer", "content": "Rules."}, {"role": "system", "content": "Rules."}),
        (
            {
                "role": "developer",
                "content": [
                    {"type": "input_text", "text": "One."},
                    {"type": "input_text", "text": "Two."},
                ],
            },
            {"role": "system", "content": "One.\n\nTwo."},
        ),
        (
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]},
            {"role": "user", "content": "Hi"},
        ),
        (
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "One."},
                    {"type": "input_text", "text": "Two."},
                ],
            },
            {
                "role": "user",
                "content": [{"type": "text", "text": "One."}, {"type": "text", "text": "Two."}],
            },
        ),
        (
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "What is this?"},
                    {"type": "input_image", "image_url": IMAGE_URL},
                    {"type": "input_image", "image_url": IMAGE_URL, "detail": "low"},
                    {"type": "input_image", "image_url": IMAGE_URL, "detail": "high"},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64,AA",
                        "detail": "original",
                    },
                ],
            },
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "auto"}},
                    {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "high"}},
                    {
                        "type": "image_url",
                        "image_url": {"url": "data:image/png;base64,AA", "detail": "high"},
                    },
                ],
            },
        ),
        ({"role": "assistant", "content": "Hello."}, {"role": "assistant", "content": "Hello."}),
        (
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "phase": "final_answer",
                "content": [
                    {"type": "output_text", "text": "Part one.", "annotations": []},
                    {"type": "refusal", "refusal": "I can't help with that."},
                ],
            },
            {"role": "assistant", "content": "Part one.\n\nI can't help with that."},
        ),
    ],
)
def test_a_message_maps_to_its_chat_message(item: dict[str, Any], expected: dict[str, Any]) -> None:
    assert messages(item) == [expected]


def test_a_run_of_assistant_items_is_one_assistant_message() -> None:
    out = messages(
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "type": "reasoning",
            "id": "rs_1",
            "summary": [{"type": "summary_text", "text": "Two calls."}],
        },
        {"role": "assistant", "content": "Checking both."},
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city":"Paris"}',
        },
        {
            "type": "function_call",
            "call_id": "call_2",
            "name": "get_weather",
            "arguments": '{"city":"Rome"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
        {"type": "function_call_output", "call_id": "call_2", "output": "Rain"},
        tools=[FUNCTION],
    )
    assert out == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": "Checking both.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Rome"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Rain"},
    ]


def test_calls_alone_make_an_assistant_message_without_content() -> None:
    out = messages(
        {"role": "user", "content": "Go"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"},
        tools=[FUNCTION],
    )
    assert out[1] == {
        "role": "assistant",
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": "{}"},
            }
        ],
    }


def test_a_call_output_s_images_follow_the_tool_messages_in_a_user_message() -> None:
    out = messages(
        {"type": "function_call", "call_id": "call_1", "name": "chart", "arguments": "{}"},
        {"type": "function_call", "call_id": "call_2", "name": "chart", "arguments": "{}"},
        {
            "type": "function_call_output",
            "call_id": "call_1",
            "output": [
                {"type": "input_text", "text": "A chart"},
                {"type": "input_text", "text": "of sales"},
                {"type": "input_image", "image_url": IMAGE_URL, "detail": "low"},
            ],
        },
        {"type": "reasoning", "id": "rs_1", "summary": []},
        {"type": "function_call_output", "call_id": "call_2", "output": []},
        {"role": "user", "content": "Explain"},
    )
    assert out[1:] == [
        {"role": "tool", "tool_call_id": "call_1", "content": "A chart\n\nof sales"},
        {"role": "tool", "tool_call_id": "call_2", "content": ""},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Images returned by tool call call_1:"},
                {"type": "image_url", "image_url": {"url": IMAGE_URL, "detail": "low"}},
            ],
        },
        {"role": "user", "content": "Explain"},
    ]


def test_reasoning_items_are_dropped() -> None:
    reasoning = {
        "type": "reasoning",
        "id": "rs_1",
        "summary": [{"type": "summary_text", "text": "Hmm."}],
        "content": [{"type": "reasoning_text", "text": "Thinking."}],
        "encrypted_content": "gAAA",
    }
    out = messages(
        {"role": "user", "content": "Hi"}, reasoning, {"role": "assistant", "content": "Hello."}
    )
    assert out == [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello."}]


# ---- a conversation over two turns ---------------------------------------------------------

TURN_1_OUTPUT: list[dict[str, Any]] = [
    {
        "id": "rs_abc",
        "type": "reasoning",
        "summary": [{"type": "summary_text", "text": "I need the weather."}],
        "status": "completed",
    },
    {
        "id": "msg_abc",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [
            {"type": "output_text", "text": "Let me check.", "annotations": [], "logprobs": []}
        ],
    },
    {
        "id": "fc_abc",
        "type": "function_call",
        "call_id": "call_paris",
        "name": "get_weather",
        "arguments": '{"city":"Paris"}',
        "status": "completed",
    },
]


def test_the_earlier_output_items_are_real_output_items() -> None:
    for item in TURN_1_OUTPUT:
        sdk_validate(ResponseOutputItem, item)


@pytest.mark.parametrize("stream", [False, True])
def test_a_function_call_round_trip_over_two_turns(stream: bool) -> None:
    turn_1 = request(
        input="What's the weather in Paris?", instructions="Use the tools.", tools=[FUNCTION]
    )
    history = [*input_items(turn_1, "req0"), *TURN_1_OUTPUT]
    body = translate(
        history,
        previous_response_id="resp_req0",
        input=[
            {"type": "function_call_output", "call_id": "call_paris", "output": '{"sky":"clear"}'}
        ],
        instructions="Answer in French.",
        tools=[FUNCTION],
        stream=stream,
    )
    assert body["messages"] == [
        {"role": "system", "content": "Answer in French."},  # this turn's instructions only
        {"role": "user", "content": "What's the weather in Paris?"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_paris",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_paris", "content": '{"sky":"clear"}'},
    ]
    assert body["tools"] == [CHAT_FUNCTION]
    if stream:
        assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})
    else:
        assert "stream" not in body
        assert "stream_options" not in body


def test_an_item_reference_is_resolved_from_the_conversation() -> None:
    history = [
        {
            "id": "msg_old",
            "type": "message",
            "role": "user",
            "status": "completed",
            "content": [{"type": "input_text", "text": "Remember this."}],
        }
    ]
    body = translate(
        history,
        input=[{"type": "item_reference", "id": "msg_old"}, {"role": "user", "content": "Now?"}],
    )
    assert body["messages"] == [
        {"role": "user", "content": "Remember this."},
        {"role": "user", "content": "Remember this."},
        {"role": "user", "content": "Now?"},
    ]


def test_an_unresolvable_item_reference_is_refused_and_left_out_of_the_view() -> None:
    fields = {
        "input": [{"role": "user", "content": "Hi"}, {"type": "item_reference", "id": "msg_gone"}]
    }
    error = problem(**fields)
    assert error.param == "input[1]"
    assert "msg_gone" in error.message
    parsed = request(**fields)
    assert dumped(to_chat(parsed, input_items(parsed, "r")))["messages"] == [
        {"role": "user", "content": "Hi"}
    ]


def test_an_empty_conversation_is_still_a_valid_view_but_refused() -> None:
    parsed = request(input=[])
    assert dumped(to_chat(parsed, []))["messages"] == [{"role": "user", "content": ""}]
    assert problem(input=[]).param == "input"
    assert problem(input=[{"type": "reasoning", "id": "rs_1", "summary": []}]).param == "input"


def test_instructions_alone_are_a_turn_only_where_the_provider_takes_one() -> None:
    parsed = request(instructions="Be brief.")
    assert dumped(to_chat(parsed, []))["messages"] == [{"role": "system", "content": "Be brief."}]
    assert untranslatable(parsed, [], needs_a_turn=False) is None
    refused = untranslatable(parsed, [], needs_a_turn=True)
    assert refused is not None
    assert (refused.status, refused.param) == (400, "input")


# ---- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tools": [FUNCTION]}, {"tools": [CHAT_FUNCTION]}),
        (
            {"tools": [{"type": "function", "name": "ping", "parameters": None, "strict": None}]},
            {"tools": [{"type": "function", "function": {"name": "ping"}}]},
        ),
        (
            {"tools": [FUNCTION | {"strict": False}]},
            {
                "tools": [
                    {"type": "function", "function": CHAT_FUNCTION["function"] | {"strict": False}}
                ]
            },
        ),
        (
            {"tools": [FUNCTION], "tool_choice": "auto"},
            {"tools": [CHAT_FUNCTION], "tool_choice": "auto"},
        ),
        (
            {"tools": [FUNCTION], "tool_choice": "none"},
            {"tools": [CHAT_FUNCTION], "tool_choice": "none"},
        ),
        (
            {"tools": [FUNCTION], "tool_choice": "required"},
            {"tools": [CHAT_FUNCTION], "tool_choice": "required"},
        ),
        (
            {"tools": [FUNCTION], "tool_choice": {"type": "function", "name": "get_weather"}},
            {
                "tools": [CHAT_FUNCTION],
                "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            },
        ),
        (
            {"tools": [FUNCTION], "parallel_tool_calls": False},
            {"tools": [CHAT_FUNCTION], "parallel_tool_calls": False},
        ),
    ],
)
def test_tools_and_tool_choice(fields: dict[str, Any], expected: dict[str, Any]) -> None:
    body = translate(input="Hi", **fields)
    assert {
        k: body[k] for k in ("tools", "tool_choice", "parallel_tool_calls") if k in body
    } == expected


SCHEMA = {
    "type": "object",
    "properties": {"answer": {"type": "string"}},
    "required": ["answer"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            {
                "format": {
                    "type": "json_schema",
                    "name": "answer",
                    "schema": SCHEMA,
                    "strict": True,
                    "description": "An answer.",
                }
            },
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {
                        "name": "answer",
                        "schema": SCHEMA,
                        "strict": True,
                        "description": "An answer.",
                    },
                }
            },
        ),
        (
            {"format": {"type": "json_schema", "name": "answer", "schema": SCHEMA}},
            {
                "response_format": {
                    "type": "json_schema",
                    "json_schema": {"name": "answer", "schema": SCHEMA},
                }
            },
        ),
        ({"format": {"type": "json_object"}}, {"response_format": {"type": "json_object"}}),
        ({"format": {"type": "text"}}, {}),
        ({"verbosity": "low"}, {"verbosity": "low"}),
        ({}, {}),
    ],
)
def test_text_format_and_verbosity(text: dict[str, Any], expected: dict[str, Any]) -> None:
    body = translate(input="Answer in JSON.", text=text)
    assert {k: body[k] for k in ("response_format", "verbosity") if k in body} == expected


@pytest.mark.parametrize(
    ("effort", "expected"),
    [
        ("none", "none"),
        ("minimal", "minimal"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("xhigh", "xhigh"),
        ("max", "xhigh"),
        (None, None),
    ],
)
def test_reasoning_effort(effort: str | None, expected: str | None) -> None:
    body = translate(input="Hi", reasoning={"effort": effort, "summary": "auto"})
    assert body.get("reasoning_effort") == expected


def test_sampling_and_identity_keep_chat_s_names_and_response_fields_stay_behind() -> None:
    body = translate(
        input="Hi",
        max_output_tokens=300,
        temperature=0.2,
        top_p=0.9,
        user="user-1",
        safety_identifier="hash-1",
        prompt_cache_key="key-1",
        # About the Response object or OpenAI's processing: not chat parameters.
        metadata={"team": "a"},
        store=False,
        include=["reasoning.encrypted_content"],
        truncation="auto",
        service_tier="default",
        max_tool_calls=2,
        prompt_cache_retention="24h",
        stream_options={"include_obfuscation": False},
    )
    assert body == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 300,
        "temperature": 0.2,
        "top_p": 0.9,
        "user": "user-1",
        "safety_identifier": "hash-1",
        "prompt_cache_key": "key-1",
    }


# ---- what a chat provider cannot honour -----------------------------------------------------

USER = {"role": "user", "content": "Hi"}


def user_with(part: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "input_text", "text": "See"}, part]}


UNTRANSLATABLE: list[tuple[dict[str, Any], str, str]] = [
    (
        {"tools": [FUNCTION, {"type": "web_search"}]},
        "tools[1]",
        "The tool type 'web_search' cannot run",
    ),
    ({"tools": [{"type": "web_search_preview"}]}, "tools[0]", "only function tools can"),
    (
        {"tools": [{"type": "file_search", "vector_store_ids": ["vs_1"]}]},
        "tools[0]",
        "'file_search'",
    ),
    (
        {
            "tools": [
                {
                    "type": "computer_use_preview",
                    "display_width": 1024,
                    "display_height": 768,
                    "environment": "linux",
                }
            ]
        },
        "tools[0]",
        "'computer_use_preview'",
    ),
    (
        {"tools": [{"type": "code_interpreter", "container": {"type": "auto"}}]},
        "tools[0]",
        "'code_interpreter'",
    ),
    ({"tools": [{"type": "image_generation"}]}, "tools[0]", "'image_generation'"),
    (
        {
            "tools": [
                {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com"}
            ]
        },
        "tools[0]",
        "'mcp'",
    ),
    ({"tools": [{"type": "local_shell"}]}, "tools[0]", "'local_shell'"),
    ({"tools": [{"type": "custom", "name": "grep"}]}, "tools[0]", "'custom'"),
    (
        {
            "tools": [FUNCTION],
            "tool_choice": {
                "type": "allowed_tools",
                "mode": "auto",
                "tools": [{"type": "function", "name": "get_weather"}],
            },
        },
        "tool_choice",
        "'allowed_tools'",
    ),
    ({"tool_choice": {"type": "web_search_preview"}}, "tool_choice", "'web_search_preview'"),
    ({"tools": [FUNCTION | {"defer_loading": True}]}, "tools[0].defer_loading", "'defer_loading'"),
    (
        {"input": [user_with({"type": "input_file", "file_id": "file-1"})]},
        "input[0].content[1]",
        "input_file",
    ),
    (
        {"input": [user_with({"type": "input_file", "file_url": "https://example.com/a.pdf"})]},
        "input[0].content[1]",
        "input_file",
    ),
    (
        {"input": [user_with({"type": "input_image", "file_id": "file-1"})]},
        "input[0].content[1]",
        "file_id",
    ),
    (
        {
            "input": [
                user_with({"type": "input_audio", "input_audio": {"data": "AA", "format": "wav"}})
            ]
        },
        "input[0].content[1]",
        "'input_audio'",
    ),
    (
        {
            "input": [
                {"role": "system", "content": [{"type": "input_image", "image_url": IMAGE_URL}]}
            ]
        },
        "input[0].content[0]",
        "system message",
    ),
    (
        {
            "input": [
                USER,
                {
                    "type": "web_search_call",
                    "id": "ws_1",
                    "status": "completed",
                    "action": {"type": "search", "query": "x"},
                },
            ]
        },
        "input[1]",
        "'web_search_call'",
    ),
    (
        {"input": [{"type": "function_call_output", "output": "x"}]},
        "input[0].call_id",
        "without a call_id",
    ),
    (
        {
            "input": [
                {
                    "type": "function_call_output",
                    "call_id": "c",
                    "output": [{"type": "input_file", "file_id": "file-1"}],
                }
            ]
        },
        "input[0].output[0]",
        "input_file",
    ),
    ({"input": [{"role": "user", "content": "Hi", "name": "ann"}]}, "input[0].name", "'name'"),
    (
        {"input": [user_with({"type": "input_text", "text": "x", "cache": True})]},
        "input[0].content[1].cache",
        "'cache'",
    ),
    ({"reasoning": {"effort": "high", "mode": "pro"}}, "reasoning.mode", "'mode'"),
    ({"background": True}, "background", "not supported by this gateway"),
    ({"conversation": "conv_1"}, "conversation", "not supported by this gateway"),
    ({"prompt": {"id": "pmpt_1"}}, "prompt", "prompt template"),
    ({"top_logprobs": 3}, "top_logprobs", "cannot be honoured"),
    (
        {"include": ["reasoning.encrypted_content", "message.output_text.logprobs"]},
        "include[1]",
        "message.output_text.logprobs",
    ),
    ({"include": ["file_search_call.results", "something.new"]}, "include[1]", "something.new"),
    ({"service_tier": "flex"}, "service_tier", "'flex'"),
    ({"service_tier": "priority"}, "service_tier", "'priority'"),
    (
        {"context_management": [{"type": "compaction", "compact_threshold": 200000}]},
        "context_management",
        "cannot be honoured",
    ),
    ({"moderation": {"model": "omni-moderation-latest"}}, "moderation", "cannot be honoured"),
    ({"prompt_cache_options": {"prewarm": True}}, "prompt_cache_options.prewarm", "prewarm"),
]


@pytest.mark.parametrize(("fields", "param", "message"), UNTRANSLATABLE)
def test_what_chat_cannot_carry_is_a_400_naming_it(
    fields: dict[str, Any], param: str, message: str
) -> None:
    error = problem(**({"input": [USER]} | fields))
    assert isinstance(error, errors.UnsupportedParameterError)
    assert error.status == 400
    assert error.param == param
    assert message in error.message


@pytest.mark.parametrize(
    "fields",
    [
        {"include": ["reasoning.encrypted_content", "message.input_image.image_url"]},
        {"include": ["web_search_call.action.sources", "code_interpreter_call.outputs"]},
        {"truncation": "auto"},
        {"service_tier": "auto"},
        {"top_logprobs": 0},
        {"background": False},
        {"prompt_cache_options": {"ttl": "30m", "mode": "implicit"}},
        {"max_tool_calls": 5},
        {"metadata": {"k": "v"}, "store": True},
        {
            "input": [
                user_with(
                    {
                        "type": "input_text",
                        "text": "x",
                        "prompt_cache_breakpoint": {"mode": "explicit"},
                    }
                )
            ]
        },
        {
            "input": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": IMAGE_URL, "file_id": "file-1"}
                    ],
                }
            ]
        },
        {"input": [{"role": "assistant", "content": "Hi", "phase": "commentary"}, USER]},
    ],
)
def test_what_chat_can_honour_passes(fields: dict[str, Any]) -> None:
    parsed = request(**({"input": [USER]} | fields))
    assert untranslatable(parsed, input_items(parsed, "r"), needs_a_turn=True) is None


def test_an_earlier_turn_s_items_are_named_by_previous_response_id() -> None:
    history = [
        {
            "id": "ws_1",
            "type": "web_search_call",
            "status": "completed",
            "action": {"type": "search", "query": "x"},
        }
    ]
    error = problem(history, previous_response_id="resp_1", input=[USER])
    assert error.param == "previous_response_id"
    assert "'web_search_call'" in error.message
    extra = [
        {
            "id": "fc_1",
            "type": "function_call",
            "call_id": "c",
            "name": "f",
            "arguments": "{}",
            "namespace": "ns",
        }
    ]
    assert (
        problem(extra, previous_response_id="resp_1", input=[USER]).param == "previous_response_id"
    )


def test_who_created_an_item_changes_nothing() -> None:
    history = [
        {
            "id": "fc_1",
            "type": "function_call",
            "status": "completed",
            "call_id": "c",
            "name": "f",
            "arguments": "{}",
            "created_by": "resp_1",
        }
    ]
    parsed = request(
        previous_response_id="resp_1",
        input=[{"type": "function_call_output", "call_id": "c", "output": "ok"}],
    )
    assert untranslatable(parsed, [*history, *input_items(parsed, "r")], needs_a_turn=True) is None

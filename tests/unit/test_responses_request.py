"""The Responses create request: validation, input items, what no path takes.

Valid bodies are checked against the openai SDK's own request types first, so that every
case here is a body OpenAI documents. Input items are checked against the SDK's types
and OpenAI's openapi spec (`ItemResource`; its `InputItem` and `CreateResponse` are
oneOfs an easy message matches twice, which JSON Schema refuses, so the SDK stands for
them).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, get_type_hints

import pytest
from openai.types.responses import ResponseInputItemParam, ResponseItem
from openai.types.responses.response_create_params import (
    ResponseCreateParamsBase,
    ResponseCreateParamsNonStreaming,
    ResponseCreateParamsStreaming,
)

from gateway import errors
from gateway.responses.items import input_items
from gateway.responses.support import refuse_everywhere
from gateway.schemas.responses import (
    FunctionTool,
    HostedTool,
    InputImage,
    OtherItem,
    OtherPart,
    OtherToolChoice,
    ResponsesRequest,
    validate_responses,
)
from openapi import validate as spec_validate
from sdk_types import sdk_validate

MODEL = "gpt-4.1"
SPEC = Path(__file__).parent.parent / "fixtures" / "openapi" / "openai.json"


def request(**fields: Any) -> ResponsesRequest:
    return validate_responses({"model": MODEL} | fields)


def rejected(**fields: Any) -> errors.GatewayError:
    with pytest.raises(errors.InvalidRequestError) as caught:
        request(**fields)
    assert caught.value.status == 400
    return caught.value


def as_input(item: dict[str, Any]) -> dict[str, Any]:
    """The SDK types no id on a user, system or developer message given as input (OpenAI
    lists one; the native path replays items without their ids)."""
    if item["type"] == "message" and item["role"] != "assistant":
        return {k: v for k, v in item.items() if k != "id"}
    return item


def documented(body: dict[str, Any]) -> None:
    """`body` is a create request as the SDK types it and the spec describes it."""
    params = (
        ResponseCreateParamsStreaming if body.get("stream") else ResponseCreateParamsNonStreaming
    )
    sdk_validate(params, body)


USER_TEXT = {"role": "user", "content": "Hi"}
ASSISTANT = {
    "id": "msg_1",
    "type": "message",
    "role": "assistant",
    "status": "completed",
    "content": [{"type": "output_text", "text": "Hello.", "annotations": []}],
}
CALL = {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"}
OUTPUT = {"type": "function_call_output", "call_id": "call_1", "output": "Sunny"}
FUNCTION = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}

# ---- valid requests ------------------------------------------------------------------------

VALID: dict[str, dict[str, Any]] = {
    "string input": {"input": "Hi"},
    "no input": {"previous_response_id": "resp_1"},
    "easy messages": {
        "input": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "input_text", "text": "Terse."}]},
            USER_TEXT,
            {"role": "assistant", "content": "Hello."},
        ]
    },
    "typed messages": {
        "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "a"}]},
            ASSISTANT,
        ]
    },
    "images and files": {
        "input": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "input_image",
                        "image_url": "https://example.com/a.png",
                        "detail": "auto",
                    },
                    {"type": "input_image", "file_id": "file-1", "detail": "low"},
                    {
                        "type": "input_image",
                        "image_url": "data:image/png;base64,AA",
                        "detail": "high",
                    },
                    {"type": "input_file", "file_id": "file-2"},
                    {
                        "type": "input_file",
                        "filename": "a.pdf",
                        "file_data": "data:application/pdf;base64,AA",
                    },
                ],
            }
        ]
    },
    "function call round trip": {
        "input": [USER_TEXT, CALL, OUTPUT],
        "tools": [FUNCTION],
        "tool_choice": "required",
        "parallel_tool_calls": False,
    },
    "tool output parts": {
        "input": [
            CALL,
            {
                "type": "function_call_output",
                "call_id": "call_1",
                "output": [
                    {"type": "input_text", "text": "A chart"},
                    {
                        "type": "input_image",
                        "image_url": "https://example.com/c.png",
                        "detail": "original",
                    },
                ],
            },
        ]
    },
    "reasoning replay": {
        "input": [
            USER_TEXT,
            {
                "type": "reasoning",
                "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Thought."}],
                "encrypted_content": "gAAA",
            },
            ASSISTANT,
        ],
        "include": ["reasoning.encrypted_content"],
        "store": False,
    },
    "item reference": {"input": [{"type": "item_reference", "id": "msg_1"}, USER_TEXT]},
    "hosted tools": {
        "input": "Find it",
        "tools": [
            {"type": "web_search"},
            {"type": "file_search", "vector_store_ids": ["vs_1"]},
            {"type": "code_interpreter", "container": {"type": "auto"}},
            {"type": "mcp", "server_label": "docs", "server_url": "https://mcp.example.com"},
            {"type": "image_generation"},
        ],
        "tool_choice": {"type": "web_search_preview"},
    },
    "allowed tools": {
        "input": "Hi",
        "tools": [FUNCTION],
        "tool_choice": {
            "type": "allowed_tools",
            "mode": "auto",
            "tools": [{"type": "function", "name": "get_weather"}],
        },
    },
    "function choice": {
        "input": "Hi",
        "tools": [FUNCTION],
        "tool_choice": {"type": "function", "name": "get_weather"},
    },
    "json schema": {
        "input": "Hi",
        "text": {
            "format": {
                "type": "json_schema",
                "name": "answer",
                "description": "The answer.",
                "schema": {"type": "object", "properties": {"a": {"type": "string"}}},
                "strict": True,
            },
            "verbosity": "low",
        },
    },
    "json object": {"input": "Hi", "text": {"format": {"type": "json_object"}}},
    "everything else": {
        "input": "Hi",
        "instructions": "Be brief.",
        "stream": True,
        "stream_options": {"include_obfuscation": False},
        "reasoning": {"effort": "high", "summary": "auto"},
        "max_output_tokens": 16,
        "max_tool_calls": 3,
        "temperature": 0.5,
        "top_p": 1,
        "top_logprobs": 5,
        "metadata": {"k" * 64: "v" * 512},
        "user": "u-1",
        "safety_identifier": "s" * 64,
        "prompt_cache_key": "key",
        "prompt_cache_retention": "24h",
        "service_tier": "flex",
        "truncation": "auto",
        "include": ["message.output_text.logprobs"],
        "background": False,
        "prompt": {"id": "pmpt_1", "version": "2", "variables": {"city": "Paris"}},
        "conversation": "conv_1",
    },
}


@pytest.mark.parametrize("case", sorted(VALID))
def test_a_documented_body_is_accepted(case: str) -> None:
    body = {"model": MODEL} | VALID[case]
    documented(body)
    parsed = validate_responses(body)
    assert parsed.model == MODEL


def test_every_field_of_the_spec_and_the_sdk_is_declared() -> None:
    # Top-level fields are closed, so one the model lacks would refuse a valid request.
    sdk = set(get_type_hints(ResponseCreateParamsBase)) | {"stream"}
    schemas = json.loads(SPEC.read_text())["components"]["schemas"]
    spec: set[str] = set()
    for part in schemas["CreateResponse"]["allOf"]:
        stack = [part]
        while stack:
            node = stack.pop()
            if "$ref" in node:
                stack.append(schemas[node["$ref"].rsplit("/", 1)[1]])
            stack.extend(node.get("allOf", []))
            spec |= set(node.get("properties", {}))
    assert set(ResponsesRequest.model_fields) == sdk | spec


def test_store_defaults_to_true_and_null_means_the_default() -> None:
    assert request().store is True
    assert request(store=None).store is True
    assert request(store=False).store is False


def test_unknown_kinds_are_kept_by_type_and_unknown_nested_fields_kept() -> None:
    parsed = request(
        input=[
            {"role": "user", "content": [{"type": "input_audio", "input_audio": {"data": "AA"}}]},
            {"type": "web_search_call", "id": "ws_1", "status": "completed"},
        ],
        tools=[
            {"type": "web_search", "search_context_size": "low"},
            FUNCTION | {"defer_loading": True},
        ],
        tool_choice={"type": "mcp", "server_label": "docs"},
        reasoning={"effort": "low", "context": "all_turns"},
    )
    assert isinstance(parsed.input, list)
    message, call = parsed.input
    assert isinstance(call, OtherItem)
    assert call.type == "web_search_call"
    assert isinstance(message.content, list)
    assert isinstance(message.content[0], OtherPart)
    assert parsed.tools is not None
    hosted, function = parsed.tools
    assert isinstance(hosted, HostedTool)
    assert hosted.model_extra == {"search_context_size": "low"}
    assert isinstance(function, FunctionTool)
    assert function.model_extra == {"defer_loading": True}
    assert isinstance(parsed.tool_choice, OtherToolChoice)
    assert parsed.reasoning is not None
    assert parsed.reasoning.model_extra == {"context": "all_turns"}


# ---- invalid requests ----------------------------------------------------------------------

INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"model": ""}, "model", "at least 1 character"),
    ({"input": 5}, "input", "valid string"),
    (
        {"input": [{"role": "tool", "content": "x"}]},
        "input[0].role",
        "'user', 'system' or 'developer'",
    ),
    ({"input": [{"type": "message", "content": "x"}]}, "input[0].role", "Field required"),
    ({"input": [{"role": "user"}]}, "input[0].content", "Field required"),
    (
        {"input": [{"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}]},
        "input[0].content[0]",
        "'type' must be one of output_text, refusal",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "output_text", "text": "x"}]}]},
        "input[0].content[0]",
        "'type' must be one of input_file, input_image, input_text",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_text"}]}]},
        "input[0].content[0].text",
        "Field required",
    ),
    (
        {"input": [{"role": "user", "content": [{"type": "input_image", "detail": "low"}]}]},
        "input[0].content[0]",
        "an image needs image_url or file_id",
    ),
    (
        {
            "input": [
                {
                    "role": "user",
                    "content": [{"type": "input_image", "image_url": "u", "detail": "max"}],
                }
            ]
        },
        "input[0].content[0].detail",
        "'auto', 'low', 'high' or 'original'",
    ),
    (
        {"input": [{"type": "function_call", "call_id": "c", "name": "f"}]},
        "input[0].arguments",
        "Field required",
    ),
    ({"input": [CALL | {"arguments": {}}]}, "input[0].arguments", "valid string"),
    ({"input": [OUTPUT | {"output": 3}]}, "input[0].output", "valid string"),
    (
        {"input": [OUTPUT | {"status": "done"}]},
        "input[0].status",
        "'in_progress', 'completed' or 'incomplete'",
    ),
    ({"input": [{"type": "reasoning", "summary": []}]}, "input[0].id", "Field required"),
    ({"input": [{"type": "item_reference"}]}, "input[0].id", "Field required"),
    ({"input": [{"type": 3}]}, "input[0].type", "valid string"),
    ({"input": ["Hi"]}, "input[0]", "an input item must be an object"),
    ({"tools": [{"type": "function", "parameters": {}}]}, "tools[0].name", "Field required"),
    ({"tools": [FUNCTION | {"name": ""}]}, "tools[0].name", "at least 1 character"),
    ({"tools": [FUNCTION | {"strict": "yes"}]}, "tools[0].strict", "valid boolean"),
    ({"tools": [{"name": "f"}]}, "tools[0].type", "Field required"),
    ({"tool_choice": "any"}, "tool_choice", "'none', 'auto' or 'required'"),
    ({"tool_choice": 3}, "tool_choice", "tool_choice must be"),
    ({"tool_choice": {"type": "function"}}, "tool_choice.name", "Field required"),
    (
        {"tool_choice": {"type": "allowed_tools", "mode": "any", "tools": []}},
        "tool_choice.mode",
        "'auto' or 'required'",
    ),
    ({"text": {"format": {"type": "grammar"}}}, "text.format", "'type' must be one of json_object"),
    (
        {"text": {"format": {"type": "json_schema", "name": "a b", "schema": {}}}},
        "text.format.name",
        "match pattern",
    ),
    (
        {"text": {"format": {"type": "json_schema", "name": "a"}}},
        "text.format.schema",
        "Field required",
    ),
    ({"text": {"verbosity": "max"}}, "text.verbosity", "'low', 'medium' or 'high'"),
    ({"reasoning": {"effort": "extreme"}}, "reasoning.effort", "'none', 'minimal'"),
    ({"reasoning": {"summary": "long"}}, "reasoning.summary", "'auto', 'concise' or 'detailed'"),
    ({"metadata": {"k": 1}}, "metadata.k", "valid string"),
    ({"metadata": {"k" * 65: "v"}}, "metadata." + "k" * 65, "at most 64 characters"),
    ({"metadata": {"k": "v" * 513}}, "metadata.k", "at most 512 characters"),
    ({"metadata": {str(i): "v" for i in range(17)}}, "metadata", "at most 16 items"),
    ({"max_output_tokens": 15}, "max_output_tokens", "greater than or equal to 16"),
    ({"max_output_tokens": "100"}, "max_output_tokens", "valid integer"),
    ({"temperature": 2.5}, "temperature", "less than or equal to 2"),
    ({"temperature": "1"}, "temperature", "valid number"),
    ({"top_p": -0.1}, "top_p", "greater than or equal to 0"),
    ({"top_logprobs": 21}, "top_logprobs", "less than or equal to 20"),
    ({"stream": "yes"}, "stream", "valid boolean"),
    ({"store": "no"}, "store", "valid boolean"),
    ({"safety_identifier": "s" * 65}, "safety_identifier", "at most 64 characters"),
    ({"service_tier": "premium"}, "service_tier", "'auto', 'default'"),
    ({"truncation": "middle"}, "truncation", "'auto' or 'disabled'"),
    ({"include": "reasoning.encrypted_content"}, "include", "valid list"),
    ({"conversation": {"name": "c"}}, "conversation.id", "Field required"),
    ({"prompt": {"version": "1"}}, "prompt.id", "Field required"),
]


@pytest.mark.parametrize(("fields", "param", "message"), INVALID)
def test_an_invalid_body_is_a_400_naming_the_field(
    fields: dict[str, Any], param: str, message: str
) -> None:
    error = rejected(**fields)
    assert error.param == param
    assert error.message.startswith(f"Invalid value for '{param}': ")
    assert message in error.message
    assert error.body()["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("name", ["messages", "max_tokens", "response_format", "modalities"])
def test_an_unknown_top_level_field_is_an_unknown_parameter(name: str) -> None:
    error = rejected(**{name: 1})
    assert error.body()["error"] == {
        "message": f"Unknown parameter: '{name}'.",
        "type": "invalid_request_error",
        "param": name,
        "code": "unknown_parameter",
    }


# ---- input items -----------------------------------------------------------------------------

IMAGE = {"type": "input_image", "image_url": "https://example.com/a.png"}

NORMALISED: list[tuple[Any, list[dict[str, Any]]]] = [
    (
        "Hi",
        [
            {
                "id": "msg_r1_0",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [{"type": "input_text", "text": "Hi"}],
            }
        ],
    ),
    (
        [
            {"role": "developer", "content": "Terse."},
            {
                "role": "user",
                "content": [IMAGE, {"type": "input_image", "file_id": "file-1", "detail": "low"}],
            },
            {"role": "assistant", "content": "Hello.", "phase": "final_answer"},
            {
                "type": "message",
                "role": "assistant",
                "id": "msg_9",
                "status": "incomplete",
                "content": [
                    {"type": "output_text", "text": "Part"},
                    {"type": "refusal", "refusal": "No."},
                ],
            },
        ],
        [
            {
                "id": "msg_r1_0",
                "type": "message",
                "status": "completed",
                "role": "developer",
                "content": [{"type": "input_text", "text": "Terse."}],
            },
            {
                "id": "msg_r1_1",
                "type": "message",
                "status": "completed",
                "role": "user",
                "content": [
                    IMAGE | {"detail": "auto"},
                    {"type": "input_image", "file_id": "file-1", "detail": "low"},
                ],
            },
            {
                "id": "msg_r1_2",
                "type": "message",
                "status": "completed",
                "role": "assistant",
                "phase": "final_answer",
                "content": [
                    {"type": "output_text", "text": "Hello.", "annotations": [], "logprobs": []}
                ],
            },
            {
                "id": "msg_9",
                "type": "message",
                "status": "incomplete",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "Part", "annotations": [], "logprobs": []},
                    {"type": "refusal", "refusal": "No."},
                ],
            },
        ],
    ),
    (
        [
            CALL,
            CALL | {"id": "fc_7", "status": "in_progress"},
            OUTPUT,
            OUTPUT | {"output": [{"type": "input_text", "text": "A"}, IMAGE]},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "gAAA"},
            {"type": "item_reference", "id": "msg_1"},
            {"id": "msg_2"},
        ],
        [
            {"id": "fc_r1_0", "type": "function_call", "status": "completed"} | CALL,
            {"id": "fc_7", "type": "function_call", "status": "in_progress"} | CALL,
            {"id": "fco_r1_2", "type": "function_call_output", "status": "completed"} | OUTPUT,
            {
                "id": "fco_r1_3",
                "type": "function_call_output",
                "status": "completed",
                "call_id": "call_1",
                "output": [{"type": "input_text", "text": "A"}, IMAGE | {"detail": "auto"}],
            },
            {
                "id": "rs_1",
                "type": "reasoning",
                "status": "completed",
                "summary": [],
                "encrypted_content": "gAAA",
            },
            {"type": "item_reference", "id": "msg_1"},
            {"type": "item_reference", "id": "msg_2"},
        ],
    ),
]


@pytest.mark.parametrize(("source", "expected"), NORMALISED)
def test_input_items_are_normalised(source: Any, expected: list[dict[str, Any]]) -> None:
    assert input_items(request(input=source), "r1") == expected


def test_no_input_has_no_items() -> None:
    assert input_items(request(previous_response_id="resp_1"), "r1") == []


def test_unknown_item_kinds_get_an_id_and_keep_their_fields() -> None:
    call = {"type": "web_search_call", "status": "completed", "action": {"type": "search"}}
    assert input_items(request(input=[call]), "r1") == [{"id": "item_r1_0"} | call]


@pytest.mark.parametrize("case", sorted(VALID))
def test_input_items_are_items_openai_lists_and_takes_back(case: str) -> None:
    parsed = request(**VALID[case])
    items = input_items(parsed, "resp_abc")
    for item in items:
        sdk_validate(ResponseInputItemParam, as_input(item))
        if item["type"] != "item_reference":  # resolved by whoever lists it
            sdk_validate(ResponseItem, item)
            spec_validate("ItemResource", item)
    # Replayed as a later turn's input, they are taken again, unchanged.
    if items:
        assert input_items(request(input=items), "other") == items


# ---- what no path takes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"background": True}, "background"),
        ({"conversation": "conv_1"}, "conversation"),
        ({"conversation": {"id": "conv_1"}}, "conversation"),
    ],
)
def test_background_and_conversations_are_refused_everywhere(
    fields: dict[str, Any], param: str
) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        refuse_everywhere(request(input="Hi", **fields))
    assert caught.value.status == 400
    assert caught.value.param == param
    assert "not supported by this gateway" in caught.value.message


def test_what_every_path_takes_passes() -> None:
    refuse_everywhere(request(input="Hi", background=False, conversation=None))


def test_an_image_keeps_its_source() -> None:
    part = InputImage(type="input_image", file_id="file-1")
    assert (part.image_url, part.file_id, part.detail) == (None, "file-1", None)

"""Reading a request body: JSON, the routing-override guard and schema validation."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gateway import errors
from gateway.http.body import parse_json, reject_routing_overrides, validate_chat

USER = [{"role": "user", "content": "Hi"}]
TOOL = {
    "type": "function",
    "function": {
        "name": "fetch",
        "parameters": {
            "type": "object",
            "properties": {
                "base_url": {"type": "string"},
                "api_key": {"type": "string"},
                "headers": {"type": "object", "properties": {"aws_region": {"type": "string"}}},
            },
            "required": ["base_url"],
        },
    },
}
SCHEMA_FORMAT = {
    "type": "json_schema",
    "json_schema": {
        "name": "settings",
        "schema": {
            "type": "object",
            "properties": {"api_base": {"type": "string"}, "extra_body": {"type": "object"}},
        },
    },
}


def chat(**kwargs: Any) -> dict[str, Any]:
    return {"model": "gpt", "messages": USER, **kwargs}


# ---- routing overrides -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        (chat(api_base="https://evil.example/v1"), "api_base"),
        (chat(metadata={"api_key": "sk-mine"}), "metadata.api_key"),
        (
            chat(metadata={"tags": {"deeper": {"organization": "org-1"}}}),
            "metadata.tags.deeper.organization",
        ),
        (chat(**{"Base-URL": "https://evil.example"}), "Base-URL"),
        (chat(**{"API_KEY": "sk"}), "API_KEY"),
        (chat(aws_access_key_id="AKIA"), "aws_access_key_id"),
        (chat(vertex_project="p"), "vertex_project"),
        (chat(litellm_logging_obj=1), "litellm_logging_obj"),
        (chat(user_config={"model_list": []}), "user_config"),
        (chat(mock_response="free"), "mock_response"),
        (chat(input_cost_per_token=0), "input_cost_per_token"),
        (
            {"model": "gpt", "messages": [{"role": "user", "content": "Hi", "extra_headers": {}}]},
            "messages[0].extra_headers",
        ),
        (
            {
                "model": "gpt",
                "messages": [
                    USER[0],
                    {"role": "user", "content": [{"type": "text", "text": "x", "proxy": "p"}]},
                ],
            },
            "messages[1].content[0].proxy",
        ),
        (chat(x=[[{"azure_endpoint": "https://evil"}]]), "x[0][0].azure_endpoint"),
        (chat(tools=[{**TOOL, "api_key": "k"}]), "tools[0].api_key"),
        (
            chat(tools=[{"type": "function", "function": {"name": "f", "extra_body": {}}}]),
            "tools[0].function.extra_body",
        ),
        (
            chat(
                response_format={
                    "type": "json_schema",
                    "json_schema": {"name": "n", "api_base": "x"},
                }
            ),
            "response_format.json_schema.api_base",
        ),
    ],
)
def test_routing_overrides_are_rejected(body: dict[str, Any], param: str) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        reject_routing_overrides(body)
    error = caught.value
    assert error.status == 400
    assert error.param == param
    assert error.code == "unsupported_parameter"


@pytest.mark.parametrize("key", ["api-version", "API_KEY", "aws_secret_access_key"])
def test_query_keys_are_checked(key: str) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        reject_routing_overrides(chat(), query_keys=["ok", key])
    assert caught.value.param == key


@pytest.mark.parametrize(
    "body",
    [
        chat(),
        chat(tools=[TOOL]),
        chat(response_format=SCHEMA_FORMAT),
        chat(metadata={"trace_id": "t", "apikey_hint": "no", "aws": "x", "base_model": "m"}),
        chat(user="api_key"),  # values are never checked, only keys
        chat(top_k=5, chat_template_kwargs={"enable_thinking": False}),
    ],
)
def test_ordinary_bodies_are_accepted(body: dict[str, Any]) -> None:
    reject_routing_overrides(body, query_keys=["trace"])


def test_schema_exemption_is_only_at_the_schema_path() -> None:
    # The same property-name shape outside a JSON Schema slot is not exempt.
    body = {"model": "gpt", "messages": [{**USER[0], "parameters": {"api_key": "k"}}]}
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        reject_routing_overrides(body)
    assert caught.value.param == "messages[0].parameters.api_key"


def test_deep_bodies_do_not_recurse() -> None:
    deep: Any = {"api_key": "k"}
    for _ in range(5000):
        deep = {"a": [deep]}
    with pytest.raises(errors.InvalidRequestError):  # too deep, long before the banned key
        reject_routing_overrides(chat(x=deep))


# ---- parse_json ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "The request body is empty; send a JSON object."),
        (b" \r\n\t", "The request body is empty; send a JSON object."),
        (b"{", "The request body is not valid JSON."),
        (b"{'model': 'gpt'}", "The request body is not valid JSON."),
        (b'{"model": "\xff"}', "The request body is not valid JSON."),
        (b"[" * 10_000, "The request body is not valid JSON."),
        (b"[" * 10_000 + b"]" * 10_000, "The request body is not valid JSON."),
        (b'{"a":' * 10_000 + b"1" + b"}" * 10_000, "The request body is not valid JSON."),
        (b"[]", "The request body must be a JSON object."),
        (b"1", "The request body must be a JSON object."),
        (b'"model"', "The request body must be a JSON object."),
        (b"null", "The request body must be a JSON object."),
    ],
)
def test_parse_json_rejects(raw: bytes, message: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        parse_json(raw)
    assert type(caught.value) is errors.InvalidRequestError
    assert caught.value.status == 400
    assert caught.value.code == "invalid_json"
    assert caught.value.message == message


def test_parse_json_accepts_an_object() -> None:
    body = chat(temperature=0.5)
    assert parse_json(json.dumps(body).encode()) == body
    assert parse_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}  # a UTF-8 BOM


# ---- validate_chat ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "gpt", "messages": [{"role": "user", "content": 5}]}, "messages[0].content"),
        (chat(temperature="hot"), "temperature"),
        (chat(temperature=2.5), "temperature"),
        (chat(top_p=-0.1), "top_p"),
        (chat(max_tokens=0), "max_tokens"),
        (chat(stop=["ok", 1]), "stop[1]"),
        (chat(tools=[{"type": "function", "function": {"name": ""}}]), "tools[0].function.name"),
        (chat(tools=[{"type": "function", "function": {"name": 5}}]), "tools[0].function.name"),
        (chat(tools=[{"type": "function", "function": {}}]), "tools[0].function.name"),
        (chat(tool_choice="sometimes"), "tool_choice"),
        (chat(reasoning_effort="max"), "reasoning_effort"),
        (
            chat(response_format={"type": "json_schema", "json_schema": {}}),
            "response_format.json_schema.name",
        ),
        (
            {"model": "gpt", "messages": [{"role": "user", "content": [{"type": "text"}]}]},
            "messages[0].content[0].text",
        ),
        (
            {
                "model": "gpt",
                "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
            },
            "messages[0].content[0].image_url.url",
        ),
        (
            {"model": "gpt", "messages": [{"role": "tool", "content": "x"}]},
            "messages[0].tool_call_id",
        ),
        ({"model": "gpt", "messages": [{"role": "robot", "content": "x"}]}, "messages[0]"),
        (
            {
                "model": "gpt",
                "messages": [
                    USER[0],
                    {"role": "assistant", "tool_calls": [{"id": "c", "function": {"name": "f"}}]},
                ],
            },
            "messages[1].tool_calls[0].function.arguments",
        ),
        ({"model": "gpt", "messages": []}, "messages"),
        ({"model": "gpt", "messages": "Hi"}, "messages"),
        ({"model": "gpt"}, "messages"),
        ({"messages": USER}, "model"),
        ({"model": "", "messages": USER}, "model"),
    ],
)
def test_validate_chat_names_the_param(body: dict[str, Any], param: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        validate_chat(body)
    error = caught.value
    assert error.status == 400
    assert error.param == param
    assert error.message.startswith(f"Invalid value for '{param}': ")


def test_validate_chat_message_text() -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        validate_chat(chat(max_tokens=0))
    assert caught.value.message == (
        "Invalid value for 'max_tokens': Input should be greater than or equal to 1."
    )


def test_validate_chat_keeps_unknown_fields() -> None:
    request = validate_chat(chat(top_k=5, logprobs=True))
    assert request.model_extra == {"top_k": 5, "logprobs": True}
    assert request.messages[0].content == "Hi"


@pytest.mark.parametrize("where", ["extra", "schema"])
def test_nesting_too_deep_is_a_400(where: str) -> None:
    deep: object = 1
    for _ in range(300):
        deep = {"a": deep}
    body: dict[str, object] = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    if where == "extra":
        body["vendor_option"] = deep
    else:
        body["tools"] = [{"type": "function", "function": {"name": "f", "parameters": deep}}]
    with pytest.raises(errors.InvalidRequestError, match="nests deeper"):
        reject_routing_overrides(body)

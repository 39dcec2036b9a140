"""The Bedrock Converse dialect against golden files and botocore's service model."""

from __future__ import annotations

import base64
import copy
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from botocore.serialize import create_serializer
from botocore.session import get_session
from botocore.validate import ParamValidator

from chunks import fold
from gateway import errors
from gateway.providers import bedrock
from gateway.providers.spec import ResponseMeta, Target, UpstreamEvent
from gateway.schemas.openai import ChatCompletionRequest

if TYPE_CHECKING:
    from botocore.model import OperationModel, Shape, StructureShape

FIXTURES = Path(__file__).parent.parent / "fixtures" / "bedrock"
META = ResponseMeta(id="chatcmpl-test", created=1700000000, model="claude")
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
REQUEST_CASES = sorted(
    p.name.removesuffix(".request.json") for p in FIXTURES.glob("*.request.json")
)
STREAM_CASES = sorted(
    p.name.removesuffix(".stream.jsonl")
    for p in FIXTURES.glob("*.stream.jsonl")
    if (FIXTURES / p.name.replace(".stream.jsonl", ".response.json")).exists()
)
ERROR_CASES = sorted(
    p.name.removesuffix(".response.json") for p in FIXTURES.glob("error_*.response.json")
)


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def events(case: str) -> list[UpstreamEvent]:
    lines = (FIXTURES / f"{case}.stream.jsonl").read_text().splitlines()
    return [
        UpstreamEvent(name=e["name"], data=json.dumps(e["data"]), is_exception=e["is_exception"])
        for e in map(json.loads, lines)
    ]


def target(model: str = MODEL, **kwargs: Any) -> Target:
    fields: dict[str, Any] = {"region": "us-east-1", "api_base": ""} | kwargs
    return Target(model_name="claude", provider="bedrock", dialect="bedrock", model=model, **fields)


def chat(**kwargs: Any) -> ChatCompletionRequest:
    kwargs.setdefault("model", "claude")
    kwargs.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return ChatCompletionRequest.model_validate(kwargs)


# ---- botocore's view of the API ------------------------------------------------------


@functools.cache
def operation(name: str) -> OperationModel:
    return get_session().get_service_model("bedrock-runtime").operation_model(name)


def input_shape(name: str) -> StructureShape:
    shape = operation(name).input_shape
    assert shape is not None
    return shape


def output_shape(name: str) -> StructureShape:
    shape = operation(name).output_shape
    assert shape is not None
    return shape


def _blobs_to_bytes(value: Any, shape: Shape) -> Any:
    """REST JSON carries blobs as base64 text; the validator wants the bytes."""
    if shape.type_name == "blob" and isinstance(value, str):
        return base64.b64decode(value)
    if shape.type_name == "structure" and isinstance(value, dict):
        members = shape.members  # type: ignore[attr-defined]
        return {k: _blobs_to_bytes(v, members[k]) if k in members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [_blobs_to_bytes(v, shape.member) for v in value]  # type: ignore[attr-defined]
    return value


def validation_report(body: dict[str, Any], model: str, *, stream: bool) -> str:
    shape = input_shape("ConverseStream" if stream else "Converse")
    params = _blobs_to_bytes({**copy.deepcopy(body), "modelId": model}, shape)
    report = ParamValidator().validate(params, shape)
    return str(report.generate_report()) if report.has_errors() else ""


def shape_report(data: dict[str, Any], shape: Shape) -> str:
    report = ParamValidator().validate(_blobs_to_bytes(data, shape), shape)
    return str(report.generate_report()) if report.has_errors() else ""


# ---- requests --------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_golden(case: str, stream: bool) -> None:
    golden = load(f"{case}.request.json")
    request = chat(**{**golden["openai"], "stream": stream})
    upstream = bedrock.build_request(request, target(**golden["target"]))
    expected = golden["bedrock"]
    url = expected["url"] + ("-stream" if stream else "")
    assert upstream.url == url
    assert upstream.body == expected["body"]
    assert upstream.sigv4_region == expected["sigv4_region"]
    assert list(upstream.dropped_params) == expected["dropped_params"]
    assert upstream.stream is stream
    assert upstream.framing == "eventstream"
    assert "authorization" not in upstream.headers


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_body_is_valid_for_botocore(case: str, stream: bool) -> None:
    golden = load(f"{case}.request.json")
    upstream = bedrock.build_request(chat(**golden["openai"]), target(**golden["target"]))
    assert validation_report(upstream.body, golden["target"]["model"], stream=stream) == ""


def test_validator_rejects_an_invalid_body() -> None:
    body = {
        "messages": [
            {"role": "user", "content": [{"text": "x", "toolUse": {"name": "f"}}]},
            {"role": "user", "content": [{"image": {"format": "png"}}]},
        ],
        "inferenceConfig": {"maxTokens": 0, "stop": ["x"]},
    }
    report = validation_report(body, MODEL, stream=False)
    assert "tagged union structure messages[0].content[0]" in report
    assert "Missing required parameter in messages[1].content[0].image" in report
    assert "inferenceConfig.maxTokens" in report
    assert 'Unknown parameter in inferenceConfig: "stop"' in report


def test_model_id_is_quoted_like_botocore() -> None:
    model = f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{MODEL}"
    upstream = bedrock.build_request(chat(), target(model=model))
    serialized = create_serializer("rest-json").serialize_to_request(
        {"modelId": model, "messages": []}, operation("Converse")
    )
    assert urlsplit(upstream.url).path == serialized["url_path"]
    assert "/" not in urlsplit(upstream.url).path.split("/model/")[1].removesuffix("/converse")


def test_api_base_and_api_key() -> None:
    upstream = bedrock.build_request(
        chat(),
        target(
            api_base="https://vpce-1.bedrock-runtime.eu-west-1.vpce.amazonaws.com/", api_key="k"
        ),
    )
    assert upstream.url.startswith(
        "https://vpce-1.bedrock-runtime.eu-west-1.vpce.amazonaws.com/model/"
    )
    assert upstream.headers["authorization"] == "Bearer k"
    assert upstream.sigv4_region is None


def test_missing_region_is_a_config_error() -> None:
    with pytest.raises(errors.InternalError):
        bedrock.build_request(chat(), target(region=None))


# ---- parameter policy ------------------------------------------------------------------


def test_params_start_from_translated_defaults() -> None:
    from gateway.providers.params import TRANSLATED_DEFAULTS

    assert dict(bedrock.PARAMS) == TRANSLATED_DEFAULTS


@pytest.mark.parametrize("name", ["logprobs", "modalities", "functions", "made_up_param"])
def test_rejected_params(name: str) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        bedrock.build_request(chat(**{name: True}), target())
    assert caught.value.param == name


def history_with_tools() -> list[dict[str, Any]]:
    call = {"id": "tooluse_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    return [
        {"role": "user", "content": "go"},
        {"role": "assistant", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "tooluse_1", "content": "done"},
    ]


TOOLS = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"n": 2}, "n"),
        ({"temperature": 1.5}, "temperature"),
        ({"stop": ["ok", ""]}, "stop"),
        ({"tools": TOOLS, "parallel_tool_calls": False}, "parallel_tool_calls"),
        ({"tools": TOOLS, "tool_choice": "none", "messages": history_with_tools()}, "tool_choice"),
        ({"messages": history_with_tools()}, "tools"),
        ({"tool_choice": "required"}, "tool_choice"),
        (
            {"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "g"}}},
            "tool_choice",
        ),
        ({"response_format": {"type": "json_object"}}, "response_format"),
        ({"response_format": {"type": "json_schema"}}, "response_format.json_schema"),
        ({"reasoning_effort": "low", "max_tokens": 1024}, "reasoning_effort"),
        ({"messages": [{"role": "assistant", "content": "Hi"}]}, "messages"),
        ({"messages": [{"role": "system", "content": "Be nice."}]}, "messages"),
        ({"messages": [{"role": "user", "content": ""}]}, "messages[0].content"),
    ],
)
def test_value_level_rejections(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        bedrock.build_request(chat(**kwargs), target())
    assert caught.value.status == 400
    assert caught.value.param == param


def test_tool_choice_none_without_tool_history_hides_the_tools() -> None:
    upstream = bedrock.build_request(chat(tools=TOOLS, tool_choice="none"), target())
    assert "toolConfig" not in upstream.body


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("auto", None),
        (None, None),
        ("required", {"any": {}}),
        ({"type": "function", "function": {"name": "f"}}, {"tool": {"name": "f"}}),
    ],
)
def test_tool_choice(choice: Any, expected: dict[str, Any] | None) -> None:
    upstream = bedrock.build_request(chat(tools=TOOLS, tool_choice=choice), target())
    assert upstream.body["toolConfig"].get("toolChoice") == expected
    assert validation_report(upstream.body, MODEL, stream=False) == ""


def test_strict_tool_is_marked_strict() -> None:
    tools = [{"type": "function", "function": {"name": "f", "strict": True}}]
    upstream = bedrock.build_request(chat(tools=tools), target())
    assert upstream.body["toolConfig"]["tools"][0]["toolSpec"]["strict"] is True


@pytest.mark.parametrize(
    ("effort", "budget"),
    [("minimal", 1024), ("low", 1024), ("medium", 2048), ("high", 4096), ("xhigh", 8192)],
)
def test_reasoning_budget_map(effort: str, budget: int) -> None:
    upstream = bedrock.build_request(chat(reasoning_effort=effort, max_tokens=20000), target())
    fields = upstream.body["additionalModelRequestFields"]
    assert fields == {"thinking": {"type": "enabled", "budget_tokens": budget}}
    assert upstream.body["inferenceConfig"]["maxTokens"] == 20000


def test_reasoning_on_nova_2() -> None:
    upstream = bedrock.build_request(
        chat(reasoning_effort="low"), target(model="us.amazon.nova-2-lite-v1:0")
    )
    fields = upstream.body["additionalModelRequestFields"]
    assert fields == {"reasoningConfig": {"type": "enabled", "maxReasoningEffort": "low"}}
    assert "inferenceConfig" not in upstream.body


@pytest.mark.parametrize(
    ("model", "effort"),
    [("meta.llama3-3-70b-instruct-v1:0", "low"), ("us.amazon.nova-2-lite-v1:0", "xhigh")],
)
def test_reasoning_rejected_without_a_documented_control(model: str, effort: str) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        bedrock.build_request(chat(reasoning_effort=effort), target(model=model))
    assert caught.value.param == "reasoning_effort"


def test_reasoning_none_is_accepted_everywhere() -> None:
    upstream = bedrock.build_request(
        chat(reasoning_effort="none"), target(model="meta.llama3-3-70b-instruct-v1:0")
    )
    assert "additionalModelRequestFields" not in upstream.body


@pytest.mark.parametrize(
    ("url", "param"),
    [
        ("https://example.com/cat.png", "messages[0].content[0].image_url"),
        ("s3://bucket/cat.png", "messages[0].content[0].image_url"),
        ("data:image/bmp;base64,Qk0=", "messages[0].content[0].image_url"),
        ("data:image/png;base64,@@not-base64@@", "messages[0].content[0].image_url"),
    ],
)
def test_images_must_be_inline(url: str, param: str) -> None:
    part = {"type": "image_url", "image_url": {"url": url}}
    with pytest.raises(errors.InvalidRequestError) as caught:
        bedrock.build_request(chat(messages=[{"role": "user", "content": [part]}]), target())
    assert caught.value.param == param


def test_invalid_tool_arguments_name_the_field() -> None:
    messages = history_with_tools()
    messages[1]["tool_calls"][0]["function"]["arguments"] = "[1, 2]"
    with pytest.raises(errors.InvalidRequestError) as caught:
        bedrock.build_request(chat(messages=messages, tools=TOOLS), target())
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


def test_consecutive_user_messages_merge() -> None:
    messages = [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]
    upstream = bedrock.build_request(chat(messages=messages), target())
    assert upstream.body["messages"] == [
        {"role": "user", "content": [{"text": "a"}, {"text": "b"}]}
    ]


# ---- responses -------------------------------------------------------------------------

SUCCESS_CASES = sorted(
    set(REQUEST_CASES)
    & {p.name.removesuffix(".response.json") for p in FIXTURES.glob("*.response.json")}
)


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_response_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    completion = bedrock.parse_response(json.dumps(golden["bedrock"]).encode(), META)
    assert completion.response == golden["openai"]
    assert usage_dict(completion.usage) == golden["usage"]


def usage_dict(usage: Any) -> dict[str, int]:
    names = (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
    )
    return {name: getattr(usage, name) for name in names}


@pytest.mark.parametrize("case", SUCCESS_CASES)
def test_response_fixture_matches_the_service_model(case: str) -> None:
    output = output_shape("Converse")
    assert shape_report(load(f"{case}.response.json")["bedrock"], output) == ""


def test_malformed_stop_reason_is_a_provider_failure() -> None:
    body = load("plain_text.response.json")["bedrock"] | {"stopReason": "malformed_tool_use"}
    with pytest.raises(errors.UpstreamError):
        bedrock.parse_response(json.dumps(body).encode(), META)


def test_unknown_stop_reason_maps_to_stop() -> None:
    body = load("plain_text.response.json")["bedrock"] | {"stopReason": "brand_new_reason"}
    completion = bedrock.parse_response(json.dumps(body).encode(), META)
    assert completion.response["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"output": {}}'])
def test_unusable_response_is_a_provider_failure(body: bytes) -> None:
    with pytest.raises(errors.UpstreamError):
        bedrock.parse_response(body, META)


# ---- streams ---------------------------------------------------------------------------


def run_stream(case: str) -> tuple[list[Any], Any]:
    state = bedrock.new_stream_state(META)
    chunks = [chunk for event in events(case) for chunk in bedrock.parse_stream_event(state, event)]
    chunks += bedrock.finish_stream(state)
    return chunks, state


def normalized(message: dict[str, Any]) -> dict[str, Any]:
    out = dict(message)
    out["tool_calls"] = [
        {**c, "function": {**c["function"], "arguments": json.loads(c["function"]["arguments"])}}
        for c in message.get("tool_calls", [])
    ]
    return out


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_concatenates_to_the_response(case: str) -> None:
    chunks, state = run_stream(case)
    golden = load(f"{case}.response.json")
    expected = golden["openai"]["choices"][0]
    folded = fold(chunks, META)
    assert normalized(folded["message"]) == normalized(expected["message"])
    assert folded["finish_reason"] == expected["finish_reason"]
    assert usage_dict(state.usage) == golden["usage"]
    assert state.done


@pytest.mark.parametrize("case", [*STREAM_CASES, "stream_model_error", "truncated"])
def test_stream_fixture_matches_the_service_model(case: str) -> None:
    stream: Any = output_shape("ConverseStream").members["stream"]
    members = stream.members
    for line in (FIXTURES / f"{case}.stream.jsonl").read_text().splitlines():
        event = json.loads(line)
        payload = {k: v for k, v in event["data"].items() if k != "p"}
        assert shape_report(payload, members[event["name"]]) == "", event


def test_plain_text_chunks() -> None:
    chunks, _ = run_stream("plain_text")
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]
    assert deltas == [
        ({"role": "assistant"}, None),
        ({"content": "Hi!"}, None),
        ({"content": " How can I help"}, None),
        ({"content": " you today?"}, None),
        ({}, "stop"),
    ]


def test_tool_call_chunks() -> None:
    chunks, _ = run_stream("tools")
    calls = [
        c["choices"][0]["delta"]["tool_calls"][0]
        for c in chunks
        if "tool_calls" in c["choices"][0]["delta"]
    ]
    assert calls[0] == {
        "index": 0,
        "id": "tooluse_lond0n01",
        "type": "function",
        "function": {"name": "get_weather", "arguments": ""},
    }
    assert all(set(call) == {"index", "function"} for call in calls[1:])


@pytest.mark.parametrize(
    ("case", "kind", "status"),
    [
        ("stream_model_error", errors.UpstreamError, 502),
        ("stream_throttling", errors.RateLimitError, 429),
    ],
)
def test_stream_exception_events(case: str, kind: type[errors.GatewayError], status: int) -> None:
    with pytest.raises(kind) as caught:
        run_stream(case)
    assert caught.value.status == status


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("validationException", errors.InvalidRequestError),
        ("serviceUnavailableException", errors.ServiceUnavailableError),
        ("internalServerException", errors.UpstreamError),
        ("error", errors.UpstreamError),
    ],
)
def test_other_exception_events(name: str, kind: type[errors.GatewayError]) -> None:
    state = bedrock.new_stream_state(META)
    event = UpstreamEvent(name=name, data='{"message": "boom"}', is_exception=True)
    with pytest.raises(kind):
        bedrock.parse_stream_event(state, event)


def test_truncated_stream_raises() -> None:
    with pytest.raises(errors.UpstreamError):
        run_stream("truncated")


def test_stream_without_metadata_raises() -> None:
    state = bedrock.new_stream_state(META)
    for event in events("plain_text")[:-1]:
        bedrock.parse_stream_event(state, event)
    with pytest.raises(errors.UpstreamError):
        bedrock.finish_stream(state)


def test_unknown_stream_events_are_ignored() -> None:
    state = bedrock.new_stream_state(META)
    assert bedrock.parse_stream_event(state, UpstreamEvent("futureEvent", '{"x": 1}')) == []


# ---- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    error = bedrock.map_error(
        golden["status"], json.dumps(golden["bedrock"]).encode(), golden["headers"]
    )
    expected = golden["error"]
    assert error.status == expected["status"]
    assert error.body()["error"] == {
        "message": expected["message"],
        "type": expected["type"],
        "param": None,
        "code": expected["code"],
    }
    assert "arn:" not in error.message


def test_error_type_from_the_body_when_the_header_is_missing() -> None:
    body = json.dumps({"__type": "com.amazon.coral.validate#ValidationException", "message": "bad"})
    error = bedrock.map_error(400, body.encode(), {})
    assert type(error) is errors.InvalidRequestError


def test_throttling_keeps_retry_after() -> None:
    headers = {"X-Amzn-ErrorType": "ThrottlingException", "retry-after": "3"}
    error = bedrock.map_error(429, b'{"message": "slow down"}', headers)
    assert isinstance(error, errors.RateLimitError)
    assert error.headers == {"retry-after": "3"}


def test_unknown_error_falls_back_to_status() -> None:
    error = bedrock.map_error(500, b"<html>oops</html>", {})
    assert type(error) is errors.UpstreamError
    assert "html" not in error.message


def test_every_error_kind_maps_to_a_gateway_error() -> None:
    for kind in bedrock.ERRORS:
        error = bedrock.map_error(400, b'{"message": "m"}', {"x-amzn-errortype": kind})
        assert isinstance(error, errors.GatewayError)

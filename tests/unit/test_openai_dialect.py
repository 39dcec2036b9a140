"""The OpenAI passthrough dialect against golden files and the openai SDK's own types."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pydantic
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from openai.types.shared import ErrorObject

from chunks import fold
from gateway import errors
from gateway.providers import openai as dialect
from gateway.providers import params
from gateway.providers.spec import ResponseMeta, Target, UpstreamEvent
from gateway.schemas.openai import ChatCompletionRequest
from sdk_types import sdk_validate

FIXTURES = Path(__file__).parent.parent / "fixtures" / "openai"
META = ResponseMeta(id="chatcmpl-test", created=1700000000, model="gpt")


def cases(suffix: str, prefix: str = "") -> list[str]:
    return sorted(p.name.removesuffix(suffix) for p in FIXTURES.glob(f"{prefix}*{suffix}"))


REQUEST_CASES = cases(".request.json")
RESPONSE_CASES = [c for c in cases(".response.json") if not c.startswith("error_")]
ERROR_CASES = cases(".response.json", prefix="error_")
STREAM_CASES = cases(".stream.jsonl")
FOLD_CASES = [c for c in STREAM_CASES if c in RESPONSE_CASES]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def stream_lines(case: str) -> list[Any]:
    """One line per SSE `data:` field: a chunk object, an error object, or "[DONE]"."""
    text = (FIXTURES / f"{case}.stream.jsonl").read_text()
    return [json.loads(line) for line in text.splitlines()]


def upstream_event(line: Any) -> UpstreamEvent:
    return UpstreamEvent(name="message", data=line if isinstance(line, str) else json.dumps(line))


def target(provider: str = "openai", **fields: Any) -> Target:
    values: dict[str, Any] = {
        "model": "gpt-4o-mini",
        "api_base": "https://api.openai.com/v1",
        "api_key": "sk-test-openai",
    } | fields
    return Target(model_name="gpt", provider=provider, dialect="openai", **values)


def chat(**kwargs: Any) -> ChatCompletionRequest:
    kwargs.setdefault("model", "gpt")
    kwargs.setdefault("messages", [{"role": "user", "content": "Hi"}])
    return ChatCompletionRequest.model_validate(kwargs)


def meta_for(case: str) -> ResponseMeta:
    path = FIXTURES / f"{case}.response.json"
    model = load(path.name)["gateway"]["model"] if path.exists() else META.model
    return dataclasses.replace(META, model=model)


def usage_dict(usage: Any) -> dict[str, int]:
    return dataclasses.asdict(usage)


# ---- the SDK's view of the API ------------------------------------------------------------
#
# Fixtures for OpenAI itself are validated strictly (extra="forbid" over the whole tree, so an
# invented field fails). Other vendors add documented fields of their own (DeepSeek's
# reasoning_content, vLLM's top_k): their fixtures are checked against the same types, with
# extra fields allowed. The SDK's request TypedDicts type lists as Iterable, which a plain
# TypeAdapter validates lazily; generators become lists so nested items are checked.


def is_openai(case: str) -> bool:
    request = FIXTURES / f"{case}.request.json"
    return not request.exists() or load(request.name)["target"]["provider"] == "openai"


def test_sdk_validator_rejects_invented_fields() -> None:
    response = load("plain_text.response.json")["upstream"]
    sdk_validate(ChatCompletion, response)
    with pytest.raises(pydantic.ValidationError):
        sdk_validate(ChatCompletion, response | {"usage": response["usage"] | {"cache": 1}})
    message = response["choices"][0]["message"] | {"reasoning_content": "x"}
    with pytest.raises(pydantic.ValidationError):
        sdk_validate(
            ChatCompletion, response | {"choices": [{**response["choices"][0], "message": message}]}
        )
    body = load("plain_text.request.json")["upstream"]["body"]
    sdk_validate(CompletionCreateParamsNonStreaming, body)
    with pytest.raises(pydantic.ValidationError):
        sdk_validate(CompletionCreateParamsNonStreaming, body | {"top_k": 1})
    bad = body | {"messages": [{"role": "user", "content": [{"type": "text", "txt": "Hi"}]}]}
    with pytest.raises(pydantic.ValidationError):
        sdk_validate(CompletionCreateParamsNonStreaming, bad)


# ---- requests ------------------------------------------------------------------------------


def built(case: str, stream: bool) -> Any:
    golden = load(f"{case}.request.json")
    request = chat(**{**golden["client"], "stream": stream})
    return dialect.build_request(request, target(**golden["target"]))


def expected_body(case: str, stream: bool) -> dict[str, Any]:
    body: dict[str, Any] = load(f"{case}.request.json")["upstream"]["body"]
    if not stream:
        return body | {"stream": False}
    return body | {"stream": True, "stream_options": {"include_usage": True}}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_golden(case: str, stream: bool) -> None:
    expected = load(f"{case}.request.json")["upstream"]
    upstream = built(case, stream)
    assert upstream.url == expected["url"]
    assert upstream.headers == expected["headers"]
    assert upstream.body == expected_body(case, stream)
    assert upstream.stream is stream
    assert upstream.framing == "sse"
    assert upstream.sigv4_region is None
    assert upstream.dropped_params == ()


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_body_matches_the_sdk(case: str, stream: bool) -> None:
    tp = CompletionCreateParamsStreaming if stream else CompletionCreateParamsNonStreaming
    sdk_validate(tp, built(case, stream).body, strict=is_openai(case))


def test_params_are_passthrough() -> None:
    assert dialect.PARAMS is None
    request = chat(logprobs=True, n=3, top_k=5, web_search_options={})
    assert params.check(request, dialect.PARAMS) == ()


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        (None, {"include_usage": True}),
        ({"include_usage": False}, {"include_usage": True}),
        ({"include_usage": True}, {"include_usage": True}),
        ({"include_obfuscation": False}, {"include_obfuscation": False, "include_usage": True}),
    ],
)
def test_stream_forces_include_usage(options: Any, expected: dict[str, Any]) -> None:
    request = chat(stream=True, **({} if options is None else {"stream_options": options}))
    assert dialect.build_request(request, target()).body["stream_options"] == expected


def test_stream_options_untouched_without_stream() -> None:
    body = dialect.build_request(chat(stream_options={"include_usage": False}), target()).body
    assert body["stream_options"] == {"include_usage": False}
    assert "stream" not in body


@pytest.mark.parametrize(
    ("api_base", "url"),
    [
        ("https://x/v1", "https://x/v1/chat/completions"),
        ("https://x/v1/", "https://x/v1/chat/completions"),
        ("https://x/v1/chat/completions", "https://x/v1/chat/completions"),
        ("https://x/v1/chat/completions/", "https://x/v1/chat/completions"),
        ("https://api.perplexity.ai", "https://api.perplexity.ai/chat/completions"),
        ("http://127.0.0.1:11434/v1", "http://127.0.0.1:11434/v1/chat/completions"),
    ],
)
def test_api_base_variants(api_base: str, url: str) -> None:
    assert dialect.endpoint(api_base) == url
    assert dialect.build_request(chat(), target(api_base=api_base)).url == url


def test_build_request_leaves_the_request_alone() -> None:
    request = chat(metadata={"trace_id": "t"}, stream=True)
    dialect.build_request(request, target())
    assert request.model == "gpt"
    assert request.stream_options is None
    assert request.model_extra == {"metadata": {"trace_id": "t"}}


# ---- responses -----------------------------------------------------------------------------


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_response_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    completion = dialect.parse_response(json.dumps(golden["upstream"]).encode(), meta_for(case))
    assert completion.response == golden["gateway"]
    assert usage_dict(completion.usage) == golden["usage"]


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_response_fixture_matches_the_sdk(case: str) -> None:
    golden = load(f"{case}.response.json")
    sdk_validate(ChatCompletion, golden["upstream"], strict=is_openai(case))
    sdk_validate(ChatCompletion, golden["gateway"], strict=is_openai(case))


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("tool_calls", "tool_calls"),
        ("content_filter", "content_filter"),
        ("function_call", "function_call"),
        ("insufficient_system_resource", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reasons(reason: str | None, expected: str) -> None:
    body = load("plain_text.response.json")["upstream"]
    body["choices"][0]["finish_reason"] = reason
    completion = dialect.parse_response(json.dumps(body).encode(), META)
    assert completion.response["choices"][0]["finish_reason"] == expected


def test_missing_usage_is_zero() -> None:
    body = load("plain_text.response.json")["upstream"]
    del body["usage"]
    completion = dialect.parse_response(json.dumps(body).encode(), META)
    assert usage_dict(completion.usage) == dict.fromkeys(usage_dict(completion.usage), 0)


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b'{"id": "chatcmpl-1", "choices": [}',
        b"[]",
        b'"text"',
        b"{}",
        b'{"choices": []}',
        b'{"choices": [{"index": 0, "finish_reason": "stop"}]}',
        b'{"choices": ["x"]}',
        b'{"error": {"message": "boom", "type": "server_error", "param": null, "code": null}}',
    ],
)
def test_unusable_response_is_a_provider_failure(body: bytes) -> None:
    with pytest.raises(errors.UpstreamError) as caught:
        dialect.parse_response(body, META)
    assert type(caught.value) is errors.UpstreamError
    assert caught.value.status == 502
    assert caught.value.code == "upstream_error"


# ---- streams -------------------------------------------------------------------------------


def run_stream(case: str, meta: ResponseMeta = META) -> tuple[list[Any], Any]:
    state = dialect.new_stream_state(meta)
    chunks = [
        chunk
        for line in stream_lines(case)
        for chunk in dialect.parse_stream_event(state, upstream_event(line))
    ]
    chunks += dialect.finish_stream(state)
    return chunks, state


@pytest.mark.parametrize("case", FOLD_CASES)
def test_stream_concatenates_to_the_response(case: str) -> None:
    meta = meta_for(case)
    chunks, state = run_stream(case, meta)
    golden = load(f"{case}.response.json")
    choice = golden["gateway"]["choices"][0]
    message = fold(chunks, meta)["message"]
    for key in ("content", "reasoning_content", "tool_calls"):
        assert message.get(key) == choice["message"].get(key), key
    assert state.finish_reason == choice["finish_reason"]
    assert usage_dict(state.usage) == golden["usage"]
    assert state.done


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_fixture_matches_the_sdk(case: str) -> None:
    for line in stream_lines(case):
        if line == "[DONE]":
            continue
        if "error" in line:
            sdk_validate(ErrorObject, line["error"])
        else:
            sdk_validate(ChatCompletionChunk, line, strict=is_openai(case))


def test_plain_text_chunks() -> None:
    chunks, _ = run_stream("plain_text")
    upstream = stream_lines("plain_text")
    assert len(chunks) == 5  # the usage chunk and [DONE] yield nothing
    for chunk, line in zip(chunks, upstream, strict=False):
        expected = {k: v for k, v in line.items() if k != "usage"}
        assert chunk == expected | {"id": META.id, "created": META.created, "model": META.model}
    assert [c["choices"][0]["finish_reason"] for c in chunks] == [None, None, None, None, "stop"]


def test_tool_call_deltas_pass_through() -> None:
    chunks, _ = run_stream("tools")
    calls = [c["choices"][0]["delta"]["tool_calls"][0] for c in chunks[:-1]]
    assert [call["index"] for call in calls] == [0, 0, 0, 0, 1, 1, 1]
    assert [call.get("id") for call in calls] == [
        "call_Qm3VbY8sXgGH0fL5nR2dT7kP",
        None,
        None,
        None,
        "call_8ZkW1nB4cT6yH2mJ9pL0sR3v",
        None,
        None,
    ]
    assert chunks[-1]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "tool_calls",
    }


def test_usage_on_a_choice_chunk_is_recorded_and_removed() -> None:
    line = stream_lines("plain_text")[4] | {
        "usage": load("plain_text.response.json")["upstream"]["usage"]
    }
    state = dialect.new_stream_state(META)
    [chunk] = dialect.parse_stream_event(state, upstream_event(line))
    assert "usage" not in chunk
    assert usage_dict(state.usage) == load("plain_text.response.json")["usage"]


def test_null_usage_keeps_the_recorded_usage() -> None:
    state = dialect.new_stream_state(META)
    for line in stream_lines("plain_text")[5:]:  # the usage chunk, then [DONE]
        dialect.parse_stream_event(state, upstream_event(line))
    dialect.parse_stream_event(state, upstream_event(stream_lines("plain_text")[1]))
    assert usage_dict(state.usage) == load("plain_text.response.json")["usage"]


def test_error_event_mid_stream_raises() -> None:
    with pytest.raises(errors.UpstreamError) as caught:
        run_stream("stream_error_event")
    assert type(caught.value) is errors.UpstreamError
    assert caught.value.message == (
        "The provider failed mid-stream: "
        "The server had an error while processing your request. Sorry about that!"
    )


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (
            {
                "error": {
                    "message": "This model's maximum context length is 128000 tokens.",
                    "type": "invalid_request_error",
                    "param": "messages",
                    "code": "context_length_exceeded",
                }
            },
            errors.ContextLengthError,
        ),
        ({"error": "boom"}, errors.UpstreamError),
        ({"error": None}, errors.UpstreamError),
    ],
)
def test_other_error_events(data: dict[str, Any], kind: type[errors.GatewayError]) -> None:
    state = dialect.new_stream_state(META)
    with pytest.raises(kind) as caught:
        dialect.parse_stream_event(state, upstream_event(data))
    assert type(caught.value) is kind


def test_truncated_stream_raises_in_finish_stream() -> None:
    state = dialect.new_stream_state(META)
    for line in stream_lines("stream_truncated"):
        dialect.parse_stream_event(state, upstream_event(line))
    with pytest.raises(errors.UpstreamError) as caught:
        dialect.finish_stream(state)
    assert caught.value.message == "The provider's stream ended before it finished."
    assert not state.done


@pytest.mark.parametrize("data", ['{"id": "chatcmpl-sim", "choices": [}', "[1]", '"x"', ""])
def test_invalid_stream_data_is_a_provider_failure(data: str) -> None:
    state = dialect.new_stream_state(META)
    with pytest.raises(errors.UpstreamError):
        dialect.parse_stream_event(state, UpstreamEvent("message", data))


# ---- errors --------------------------------------------------------------------------------


def error_body(raw: Any) -> bytes:
    return raw.encode() if isinstance(raw, str) else json.dumps(raw).encode()


@pytest.mark.parametrize("case", ERROR_CASES)
def test_error_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    error = dialect.map_error(golden["status"], error_body(golden["upstream"]), golden["headers"])
    expected = golden["gateway"]
    assert error.status == expected["status"]
    assert error.body()["error"] == {
        "message": expected["message"],
        "type": expected["type"],
        "param": expected["param"],
        "code": expected["code"],
    }
    assert error.headers == expected["headers"]


@pytest.mark.parametrize("case", [c for c in ERROR_CASES if c != "error_not_json"])
def test_error_fixture_matches_the_sdk(case: str) -> None:
    upstream = load(f"{case}.response.json")["upstream"]
    assert set(upstream) == {"error"}
    sdk_validate(ErrorObject, upstream["error"])


def test_upstream_credentials_never_reach_the_client() -> None:
    golden = load("error_authentication.response.json")
    error = dialect.map_error(401, error_body(golden["upstream"]), golden["headers"])
    assert "sk-proj" not in json.dumps(error.body())


@pytest.mark.parametrize(
    ("millis", "seconds"),
    [("120", "1"), ("1000", "1"), ("1200", "2"), ("2500", "3"), ("20000", "20")],
)
def test_retry_after_ms_rounds_up(millis: str, seconds: str) -> None:
    # Telling a client to come back before the provider's window reopens earns another 429.
    error = dialect.map_error(429, b"{}", {"retry-after-ms": millis})
    assert error.headers == {"retry-after": seconds}


def test_retry_after_wins_over_retry_after_ms() -> None:
    error = dialect.map_error(429, b"{}", {"retry-after": "7", "retry-after-ms": "1500"})
    assert error.headers == {"retry-after": "7"}


@pytest.mark.parametrize(
    ("status", "kind", "client_status"),
    [
        (400, errors.InvalidRequestError, 400),
        (401, errors.UpstreamAuthError, 502),
        (404, errors.UpstreamError, 502),
        (408, errors.UpstreamTimeoutError, 504),
        (413, errors.InvalidRequestError, 400),
        (429, errors.RateLimitError, 429),
        (500, errors.UpstreamError, 502),
        (503, errors.ServiceUnavailableError, 503),
        (504, errors.UpstreamTimeoutError, 504),
    ],
)
def test_non_json_error_bodies_map_by_status(
    status: int, kind: type[errors.GatewayError], client_status: int
) -> None:
    error = dialect.map_error(status, b"upstream connect error or disconnect/reset", {})
    assert type(error) is kind
    assert error.status == client_status
    assert "upstream connect" not in error.message
    assert error.param is None


def test_vendor_message_is_flattened_and_bounded() -> None:
    message = "bad\n\n  request " + "x" * 1000
    body = json.dumps({"error": {"message": message, "type": "invalid_request_error"}})
    error = dialect.map_error(400, body.encode(), {})
    prefix = "The provider rejected the request: "
    assert error.message == prefix + ("bad request " + "x" * 1000)[:400]


def test_param_is_kept_only_for_client_errors() -> None:
    body = {"error": {"message": "slow down", "type": "requests", "param": "model", "code": None}}
    assert dialect.map_error(429, error_body(body), {}).param is None
    assert dialect.map_error(400, error_body(body), {}).param == "model"


@pytest.mark.parametrize("code", sorted(dialect.ERRORS))
def test_every_error_code_maps_to_its_kind(code: str) -> None:
    body = {"error": {"message": "m", "type": "invalid_request_error", "param": None, "code": code}}
    error = dialect.map_error(400, error_body(body), {})
    assert type(error) is dialect.ERRORS[code]
    assert error.message == "m"

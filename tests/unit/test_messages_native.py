"""The Messages API relayed natively to Claude, against golden files.

Two upstreams carry the client's Messages body: Anthropic's POST /v1/messages
(tests/fixtures/anthropic_native) and Bedrock's InvokeModel and
InvokeModelWithResponseStream (tests/fixtures/bedrock_invoke). Per case:
`<case>.request.json` is the client's request (its `anthropic-beta` headers and body),
`<case>.upstream.json` what the gateway sends, `<case>.response.json` the provider's
answer and the TokenUsage it is charged as, `<case>.stream.jsonl` the provider's stream:
Anthropic's SSE events (https://docs.anthropic.com/en/docs/build-with-claude/streaming),
or the same events as Bedrock sends them, base64 inside event-stream `chunk` events
(`event` is that payload decoded, for the reader), `message_stop` carrying
`amazon-bedrock-invocationMetrics`. Streams go through the transport's own decoders
(SSE, botocore's event stream), events and answers are checked against the anthropic
SDK's types with unknown fields forbidden, requests against the SDK's request types
and botocore's bedrock-runtime model.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pydantic
import pytest
from anthropic.lib.streaming._messages import accumulate_event
from anthropic.types import Message, MessageCountTokensParams, RawMessageStreamEvent
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from anthropic.types.shared import ErrorResponse
from botocore.serialize import create_serializer
from botocore.session import get_session
from botocore.validate import ParamValidator
from starlette.requests import Request

from gateway import errors
from gateway.http.messages import betas, native_body
from gateway.local.simulator.eventstream import encode_event, encode_exception
from gateway.messages import errors as shapes
from gateway.messages.fold import fold
from gateway.messages.native import NATIVE, NativeSpeaker, NativeState, native_api
from gateway.messages.to_chat import to_chat
from gateway.providers.anthropic import native as anthropic_native
from gateway.providers.bedrock import native as bedrock_native
from gateway.providers.spec import ResponseMeta, Target, TokenUsage, UpstreamEvent
from gateway.providers.sse import SSEDecoder
from gateway.providers.transport import EventStreamDecoder
from gateway.schemas.anthropic import validate_messages
from sdk_types import sdk_validate

if TYPE_CHECKING:
    from botocore.model import OperationModel

FIXTURES = Path(__file__).parent.parent / "fixtures"
META = ResponseMeta(id="msg_req-native-test", created=1700000000, model="claude")
METRICS = "amazon-bedrock-invocationMetrics"
ANTHROPIC = "anthropic_native"
BEDROCK = "bedrock_invoke"
APIS = (ANTHROPIC, BEDROCK)
VENDOR_KEY = {ANTHROPIC: "anthropic", BEDROCK: "bedrock"}  # the answer in response.json
TARGETS = {
    ANTHROPIC: Target(
        model_name="claude",
        provider="anthropic",
        dialect="anthropic",
        model="claude-sonnet-4-5-20250929",
        api_base="https://api.anthropic.com",
        api_key="sk-ant-test",
    ),
    BEDROCK: Target(
        model_name="claude",
        provider="bedrock",
        dialect="bedrock",
        model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        api_base="",
        region="us-east-1",
    ),
}

Line = dict[str, Any]
EVENTS: pydantic.TypeAdapter[RawMessageStreamEvent] = pydantic.TypeAdapter(RawMessageStreamEvent)


def load(api: str, name: str) -> Any:
    return json.loads((FIXTURES / api / name).read_text())


def cases(api: str, suffix: str) -> list[str]:
    return sorted(p.name.removesuffix(suffix) for p in (FIXTURES / api).glob(f"*{suffix}"))


def each(suffix: str, *, failing: bool | None = None) -> list[tuple[str, str]]:
    """(api, case) pairs; `failing` picks the streams that end in an error (or not)."""
    pairs = [(api, case) for api in APIS for case in cases(api, suffix)]
    if failing is None:
        return pairs
    return [
        (api, c)
        for api, c in pairs
        if ((FIXTURES / api / f"{c}.response.json").exists()) is not failing
    ]


REQUEST_CASES = each(".request.json")
RESPONSE_CASES = each(".response.json")
STREAM_CASES = each(".stream.jsonl", failing=False)
ERROR_STREAM_CASES = each(".stream.jsonl", failing=True)


def lines_of(api: str, case: str) -> tuple[list[Line], dict[str, int] | None]:
    """The stream's events and, from its closing `end` line, the usage it is charged."""
    text = (FIXTURES / api / f"{case}.stream.jsonl").read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    if "end" in lines[-1]:
        return lines[:-1], lines[-1]["end"]["usage"]
    return lines, None


def provider_event(api: str, line: Line) -> dict[str, Any]:
    """The Anthropic event a stream line carries, as the provider wrote it."""
    return copy.deepcopy(line["data"] if api == ANTHROPIC else line["event"])


def wire(api: str, lines: list[Line]) -> list[UpstreamEvent]:
    """The lines as bytes on the wire, decoded by the transport's own decoder."""
    if api == ANTHROPIC:
        raw = b"".join(
            f"event: {line['event']}\ndata: {json.dumps(line['data'])}\n\n".encode()
            for line in lines
        )
        return SSEDecoder().feed(raw)
    frames = b"".join(
        encode_exception(line["name"], line["data"])
        if line["is_exception"]
        else encode_event(line["name"], line["data"])
        for line in lines
    )
    return EventStreamDecoder().feed(frames)


def usage_dict(usage: TokenUsage | None) -> dict[str, int]:
    assert usage is not None
    names = (
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "reasoning_tokens",
    )
    return {name: getattr(usage, name) for name in names}


def http_request(headers: dict[str, list[str]]) -> Request:
    raw = [(name.encode(), value.encode()) for name, values in headers.items() for value in values]
    return Request({"type": "http", "method": "POST", "path": "/v1/messages", "headers": raw})


def client_call(api: str, case: str, *, stream: bool) -> tuple[dict[str, Any], tuple[str, ...]]:
    """What the HTTP layer hands the native path: the body less gateway fields, the betas."""
    golden = load(api, f"{case}.request.json")
    body = native_body({**golden["body"], **({"stream": True} if stream else {})})
    return body, betas(http_request(golden["headers"]))


def speaker_for(api: str, body: dict[str, Any] | None = None, names: tuple[str, ...] = ()) -> Any:
    target = TARGETS[api]
    native = native_api(target)
    assert native is not None
    return NativeSpeaker(native, target, body or {}, names)


def upstream_for(api: str, case: str, *, stream: bool) -> Any:
    body, names = client_call(api, case, stream=stream)
    chat = to_chat(validate_messages(body))  # what the pipeline routes the request by
    return speaker_for(api, body, names).build_request(chat, TARGETS[api])


def client_error(error: errors.GatewayError) -> tuple[int, str]:
    """The status and Anthropic error type a client gets for a gateway error."""
    body: Any = shapes.body(error)
    return shapes.status_of(error), body["error"]["type"]


def validate_event(event: dict[str, Any]) -> None:
    """The SDK's event union leaves out `ping`, which the streaming guide documents."""
    if event["type"] == "ping":
        assert event == {"type": "ping"}
    else:
        sdk_validate(RawMessageStreamEvent, event)


def relay(api: str, lines: list[Line]) -> tuple[list[dict[str, Any]], NativeState]:
    speaker = speaker_for(api)
    state = speaker.new_stream_state(META)
    out = [e for event in wire(api, lines) for e in speaker.parse_stream_event(state, event)]
    return out, state


def relayed(api: str, line: Line) -> dict[str, Any]:
    """What the client should get for a provider event: only id and model rewritten, and
    Bedrock's metrics gone."""
    event = provider_event(api, line)
    event.pop(METRICS, None)
    if event["type"] == "message_start":
        event["message"]["id"], event["message"]["model"] = META.id, META.model
    return event


# ---- botocore's view of Bedrock -----------------------------------------------------------


@functools.cache
def operation(name: str) -> OperationModel:
    return get_session().get_service_model("bedrock-runtime").operation_model(name)


def botocore_report(name: str, params: dict[str, Any]) -> str:
    shape = operation(name).input_shape
    assert shape is not None
    report = ParamValidator().validate(params, shape)
    return str(report.generate_report()) if report.has_errors() else ""


def botocore_path(name: str, params: dict[str, Any]) -> str:
    serialized = create_serializer("rest-json").serialize_to_request(params, operation(name))
    return str(serialized["url_path"])


# ---- which deployments are served natively --------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "model", "native"),
    [
        ("anthropic", "claude-sonnet-4-5-20250929", anthropic_native),
        ("bedrock", "us.anthropic.claude-sonnet-4-5-20250929-v1:0", bedrock_native),
        (
            "bedrock",
            "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0",
            bedrock_native,
        ),
        ("bedrock", "meta.llama3-3-70b-instruct-v1:0", None),
        ("openai", "gpt-4o-mini", None),
    ],
)
def test_claude_deployments_are_served_natively(dialect: str, model: str, native: Any) -> None:
    target = Target(model_name="m", provider=dialect, dialect=dialect, model=model, api_base="")
    assert native_api(target) is native


# ---- requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize(("api", "case"), REQUEST_CASES)
def test_request_golden(api: str, case: str, stream: bool) -> None:
    upstream = upstream_for(api, case, stream=stream)
    expected = load(api, f"{case}.upstream.json")
    assert upstream.headers == expected["headers"]
    assert upstream.stream is stream
    assert upstream.dropped_params == ()
    if api == ANTHROPIC:
        assert upstream.url == expected["url"]
        assert upstream.body == expected["body"] | ({"stream": True} if stream else {})
        assert (upstream.framing, upstream.sigv4_region) == ("sse", None)
    else:
        assert upstream.url == expected["stream_url" if stream else "url"]
        assert upstream.body == expected["body"]  # the operation says whether it streams
        assert upstream.sigv4_region == expected["sigv4_region"]
        assert upstream.framing == ("eventstream" if stream else "sse")


@pytest.mark.parametrize(("api", "case"), REQUEST_CASES)
def test_client_request_is_a_real_messages_request(api: str, case: str) -> None:
    body, _ = client_call(api, case, stream=False)
    sdk_validate(MessageCreateParamsNonStreaming, body)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", cases(ANTHROPIC, ".upstream.json"))
def test_anthropic_upstream_body_is_a_messages_request(case: str, stream: bool) -> None:
    params = MessageCreateParamsStreaming if stream else MessageCreateParamsNonStreaming
    sdk_validate(params, upstream_for(ANTHROPIC, case, stream=stream).body)


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("case", cases(BEDROCK, ".upstream.json"))
def test_bedrock_upstream_is_an_invoke_model_call(case: str, stream: bool) -> None:
    upstream = upstream_for(BEDROCK, case, stream=stream)
    name = "InvokeModelWithResponseStream" if stream else "InvokeModel"
    model = TARGETS[BEDROCK].model
    params = {
        "modelId": model,
        "body": json.dumps(upstream.body).encode(),
        "contentType": upstream.headers["content-type"],
        "accept": upstream.headers["accept"],
    }
    assert botocore_report(name, params) == ""
    assert urlsplit(upstream.url).path == botocore_path(name, params)
    # The body is Anthropic's own, minus model and stream, plus Bedrock's version and betas.
    claude = {k: v for k, v in upstream.body.items() if not k.startswith("anthropic_")}
    sdk_validate(MessageCreateParamsNonStreaming, {**claude, "model": model})
    assert upstream.body["anthropic_version"] == "bedrock-2023-05-31"
    assert {"model", "stream"}.isdisjoint(upstream.body)


def test_bedrock_api_key_replaces_sigv4() -> None:
    target = Target(
        model_name="claude",
        provider="bedrock",
        dialect="bedrock",
        model=TARGETS[BEDROCK].model,
        api_base="https://vpce-1.bedrock-runtime.eu-west-1.vpce.amazonaws.com/",
        api_key="bedrock-api-key",
    )
    body, _ = client_call(BEDROCK, "plain_text", stream=True)
    upstream = bedrock_native.build_messages_request(body, target, stream=True, betas=())
    assert upstream.url == (
        "https://vpce-1.bedrock-runtime.eu-west-1.vpce.amazonaws.com/model/"
        "us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/invoke-with-response-stream"
    )
    assert upstream.headers["authorization"] == "Bearer bedrock-api-key"
    assert upstream.sigv4_region is None


def test_bedrock_without_a_region_is_a_config_error() -> None:
    target = Target(
        model_name="claude", provider="bedrock", dialect="bedrock", model="m", api_base=""
    )
    with pytest.raises(errors.InternalError):
        bedrock_native.build_messages_request({}, target, stream=False, betas=())


# ---- token counting ------------------------------------------------------------------------


@pytest.mark.parametrize("case", cases(ANTHROPIC, ".upstream.json"))
def test_anthropic_count_request_is_the_body_without_generation_fields(case: str) -> None:
    body, names = client_call(ANTHROPIC, case, stream=True)
    body.pop("metadata", None)  # count_tokens takes none; max_tokens and stream are dropped
    upstream = anthropic_native.build_count_request(body, TARGETS[ANTHROPIC], betas=names)
    expected = load(ANTHROPIC, f"{case}.upstream.json")
    assert upstream.url == "https://api.anthropic.com/v1/messages/count_tokens"
    assert upstream.headers == expected["headers"]
    dropped = ("max_tokens", "metadata")
    assert upstream.body == {k: v for k, v in expected["body"].items() if k not in dropped}
    sdk_validate(MessageCountTokensParams, upstream.body)


@pytest.mark.parametrize("case", cases(BEDROCK, ".upstream.json"))
def test_bedrock_count_request_carries_the_invoke_body(case: str) -> None:
    body, names = client_call(BEDROCK, case, stream=True)
    upstream = bedrock_native.build_count_request(body, TARGETS[BEDROCK], betas=names)
    expected = load(BEDROCK, f"{case}.upstream.json")
    assert upstream.url == expected["url"].removesuffix("/invoke") + "/count-tokens"
    blob = base64.b64decode(upstream.body["input"]["invokeModel"]["body"], validate=True)
    assert json.loads(blob) == expected["body"]
    params = {"modelId": TARGETS[BEDROCK].model, "input": {"invokeModel": {"body": blob}}}
    assert botocore_report("CountTokens", params) == ""
    assert urlsplit(upstream.url).path == botocore_path("CountTokens", params)


def test_bedrock_count_request_supplies_the_max_tokens_invoke_model_requires() -> None:
    body = {"model": "claude", "messages": [{"role": "user", "content": "Hello"}]}
    upstream = bedrock_native.build_count_request(body, TARGETS[BEDROCK], betas=())
    blob = base64.b64decode(upstream.body["input"]["invokeModel"]["body"])
    assert json.loads(blob) == {
        "messages": body["messages"],
        "max_tokens": 1,
        "anthropic_version": "bedrock-2023-05-31",
    }


@pytest.mark.parametrize(
    ("native", "answer"),
    [(anthropic_native, {"input_tokens": 14}), (bedrock_native, {"inputTokens": 14})],
)
def test_token_counts(native: Any, answer: dict[str, Any]) -> None:
    assert native.count_from(json.dumps(answer).encode()) == 14
    for bad in (b"{}", b'{"input_tokens": "14", "inputTokens": true}', b"not json"):
        with pytest.raises(errors.UpstreamError):
            native.count_from(bad)


# ---- answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(("api", "case"), RESPONSE_CASES)
def test_response_golden(api: str, case: str) -> None:
    golden = load(api, f"{case}.response.json")
    answer = golden[VENDOR_KEY[api]]
    sdk_validate(Message, answer)  # the fixture is a real Message
    completion = speaker_for(api).parse_response(json.dumps(answer).encode(), META)
    assert completion.response == answer | {"id": META.id, "model": META.model}
    assert usage_dict(completion.usage) == golden["usage"]
    sdk_validate(Message, completion.response)


@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b'{"type": "error", "error": {}}', b'{"type": "message", "content": {}}'],
)
def test_unusable_response_is_a_provider_failure(api: str, body: bytes) -> None:
    with pytest.raises(errors.UpstreamError):
        speaker_for(api).parse_response(body, META)


# Error answers go through the deployment's dialect, then into Anthropic's shape.
@pytest.mark.parametrize(
    ("api", "status", "body", "headers", "anthropic"),
    [
        (
            ANTHROPIC,
            529,
            '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}',
            {},
            (529, "overloaded_error"),
        ),
        (
            ANTHROPIC,
            429,
            '{"type":"error","error":{"type":"rate_limit_error","message":"Slow down"}}',
            {"retry-after": "3"},
            (429, "rate_limit_error"),
        ),
        (
            ANTHROPIC,
            500,
            '{"type":"error","error":{"type":"api_error","message":"Internal server error"}}',
            {},
            (500, "api_error"),
        ),
        (
            BEDROCK,
            429,
            '{"message":"Too many requests, please wait before trying again."}',
            {"x-amzn-errortype": "ThrottlingException"},
            (429, "rate_limit_error"),
        ),
        (
            BEDROCK,
            400,
            '{"message":"Malformed input request: #: extraneous key [x] is not '
            'permitted, please reformat your input and try again."}',
            {"x-amzn-errortype": "ValidationException"},
            (400, "invalid_request_error"),
        ),
        (
            BEDROCK,
            503,
            '{"message":"Bedrock is unable to process your request."}',
            {"x-amzn-errortype": "ServiceUnavailableException"},
            (529, "overloaded_error"),
        ),
    ],
)
def test_error_answers_in_anthropic_shape(
    api: str, status: int, body: str, headers: dict[str, str], anthropic: tuple[int, str]
) -> None:
    error = speaker_for(api).map_error(status, body.encode(), headers)
    assert client_error(error) == anthropic
    sdk_validate(ErrorResponse, shapes.body(error, "req-native-test"))


# ---- streams -------------------------------------------------------------------------------


@pytest.mark.parametrize(("api", "case"), STREAM_CASES)
def test_stream_golden(api: str, case: str) -> None:
    lines, usage = lines_of(api, case)
    events, state = relay(api, lines)
    assert events == [relayed(api, line) for line in lines]
    for event in events:
        validate_event(event)
    assert state.done
    assert speaker_for(api).finish_stream(state) == []
    assert usage_dict(state.usage) == usage


@pytest.mark.parametrize("case", cases(BEDROCK, ".response.json"))
def test_bedrock_chunks_decode_to_their_events_and_carry_metrics(case: str) -> None:
    lines, usage = lines_of(BEDROCK, case)
    for line in lines:
        assert json.loads(base64.b64decode(line["data"]["bytes"])) == line["event"]
    metrics = lines[-1]["event"][METRICS]
    assert usage is not None
    fresh = usage["input_tokens"] - usage["cache_read_tokens"] - usage["cache_write_tokens"]
    assert (metrics["inputTokenCount"], metrics["outputTokenCount"]) == (
        fresh,
        usage["output_tokens"],
    )
    events, _ = relay(BEDROCK, lines)
    assert events[-1] == {"type": "message_stop"}


@pytest.mark.parametrize(("api", "case"), STREAM_CASES)
def test_stream_folds_to_the_non_streamed_answer(api: str, case: str) -> None:
    lines, _ = lines_of(api, case)
    events, _ = relay(api, lines)
    answer = load(api, f"{case}.response.json")[VENDOR_KEY[api]]
    expected = speaker_for(api).parse_response(json.dumps(answer).encode(), META).response
    assert fold(events) == expected
    # ... and so does the anthropic SDK's own accumulator.
    snapshot = None
    buffers: dict[int, bytes] = {}
    for event in events:
        if event["type"] != "ping":
            parsed = EVENTS.validate_python(event)
            snapshot = accumulate_event(event=parsed, current_snapshot=snapshot, json_bufs=buffers)
    assert snapshot is not None
    assert snapshot.to_dict(exclude_none=True) == Message.model_validate(expected).to_dict(
        exclude_none=True
    )


@pytest.mark.parametrize(("api", "case"), STREAM_CASES)
def test_the_client_gets_each_event_as_a_named_sse_event(api: str, case: str) -> None:
    lines, _ = lines_of(api, case)
    events, _ = relay(api, lines)
    decoded = SSEDecoder().feed(b"".join(NATIVE.encode(event) for event in events))
    assert [(e.name, json.loads(e.data)) for e in decoded] == [(e["type"], e) for e in events]
    # message_delta and message_stop went out with the events: the tail adds only the cost.
    chat = to_chat(validate_messages(client_call(api, "plain_text", stream=True)[0]))
    assert NATIVE.tail(chat, META, None, 1234) == b": x-gateway-cost-usd=0.001234\n\n"


@pytest.mark.parametrize(("api", "case"), ERROR_STREAM_CASES)
def test_a_stream_error_raises_the_mapped_error(api: str, case: str) -> None:
    lines, _ = lines_of(api, case)
    *started, failing = lines
    speaker = speaker_for(api)
    state = speaker.new_stream_state(META)
    *before, last = wire(api, lines)
    events = [e for event in before for e in speaker.parse_stream_event(state, event)]
    assert events == [relayed(api, line) for line in started]
    with pytest.raises(errors.GatewayError) as caught:
        speaker.parse_stream_event(state, last)
    error, expected = caught.value, failing["raises"]
    assert (type(error).__name__, error.status) == (expected["error"], expected["status"])
    assert client_error(error) == (expected["anthropic"]["status"], expected["anthropic"]["type"])
    assert shapes.event(error).startswith(b"event: error\ndata: ")
    sdk_validate(ErrorResponse, shapes.body(error))
    # What the failed stream consumed is known from message_start: the provider's input.
    start = relayed(api, started[0])["message"]["usage"]
    assert usage_dict(state.usage)["input_tokens"] == start["input_tokens"]
    assert not state.done


@pytest.mark.parametrize(("api", "case"), STREAM_CASES)
def test_a_stream_cut_before_message_stop_fails(api: str, case: str) -> None:
    lines, usage = lines_of(api, case)
    assert provider_event(api, lines[-1])["type"] == "message_stop"
    events, state = relay(api, lines[:-1])
    assert events[-1]["type"] == "message_delta"
    with pytest.raises(errors.UpstreamError):
        speaker_for(api).finish_stream(state)
    assert usage_dict(state.usage) == usage  # message_delta's counts, for the spend log


@pytest.mark.parametrize(("api", "case"), STREAM_CASES)
def test_a_stream_cut_after_message_start_keeps_its_input_count(api: str, case: str) -> None:
    lines, usage = lines_of(api, case)
    assert usage is not None
    _, state = relay(api, lines[:1])
    start = relayed(api, lines[0])["message"]["usage"]
    assert usage_dict(state.usage) == usage | {"output_tokens": start["output_tokens"]}
    with pytest.raises(errors.UpstreamError):
        speaker_for(api).finish_stream(state)


def test_an_anthropic_error_event_names_its_type() -> None:
    speaker = speaker_for(ANTHROPIC)
    state = speaker.new_stream_state(META)
    body = {"type": "error", "error": {"type": "invalid_request_error", "message": "bad"}}
    with pytest.raises(errors.InvalidRequestError):
        speaker.parse_stream_event(state, UpstreamEvent("error", json.dumps(body)))


@pytest.mark.parametrize("data", ["not json", "[1]"])
def test_an_unreadable_anthropic_event_is_a_provider_failure(data: str) -> None:
    speaker = speaker_for(ANTHROPIC)
    with pytest.raises(errors.UpstreamError):
        speaker.parse_stream_event(speaker.new_stream_state(META), UpstreamEvent("ping", data))


def test_a_message_start_without_a_message_is_a_provider_failure() -> None:
    speaker = speaker_for(ANTHROPIC)
    event = UpstreamEvent("message_start", '{"type": "message_start"}')
    with pytest.raises(errors.UpstreamError):
        speaker.parse_stream_event(speaker.new_stream_state(META), event)


def test_unknown_bedrock_stream_events_are_skipped() -> None:
    speaker = speaker_for(BEDROCK)
    event = UpstreamEvent("futureEvent", '{"x": 1}')
    assert speaker.parse_stream_event(speaker.new_stream_state(META), event) == []


def chunk(payload: bytes) -> UpstreamEvent:
    return UpstreamEvent("chunk", json.dumps({"bytes": base64.b64encode(payload).decode()}))


@pytest.mark.parametrize(
    "event",
    [
        UpstreamEvent("chunk", '{"bytes": "not base64!"}'),
        UpstreamEvent("chunk", '{"p": "abc"}'),
        chunk(b'{"type":"content_block_delta","index":0,"delta":{'),
        chunk(b'{"type":"error","error":{"type":"api_error","message":"boom"}}'),
    ],
)
def test_an_unusable_bedrock_chunk_is_a_provider_failure(event: UpstreamEvent) -> None:
    speaker = speaker_for(BEDROCK)
    with pytest.raises(errors.UpstreamError):
        speaker.parse_stream_event(speaker.new_stream_state(META), event)


@pytest.mark.parametrize(
    ("name", "kind", "anthropic"),
    [
        ("throttlingException", errors.RateLimitError, "rate_limit_error"),
        ("serviceUnavailableException", errors.ServiceUnavailableError, "overloaded_error"),
        ("modelStreamErrorException", errors.UpstreamError, "api_error"),
        ("internalServerException", errors.UpstreamError, "api_error"),
        ("validationException", errors.InvalidRequestError, "invalid_request_error"),
    ],
)
def test_bedrock_exception_events(
    name: str, kind: type[errors.GatewayError], anthropic: str
) -> None:
    speaker = speaker_for(BEDROCK)
    event = UpstreamEvent(name, '{"message": "boom"}', is_exception=True)
    with pytest.raises(kind) as caught:
        speaker.parse_stream_event(speaker.new_stream_state(META), event)
    assert client_error(caught.value)[1] == anthropic

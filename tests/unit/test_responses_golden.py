"""The Responses API on every dialect, against golden files (tests/fixtures/responses).

Per case:
- `<case>.request.json`: the client's body and the stored conversation its
  `previous_response_id` resolves to (`history`, as StoredResponse.conversation gives it);
- `<case>.upstream.json`: what each deployment is sent, by dialect: `native` (OpenAI's
  POST /v1/responses, gateway/responses/native.py) and, from the chat translation
  (gateway/responses/to_chat.py), `openai` (an OpenAI-compatible chat server), `anthropic`
  (Messages) and `bedrock` (Converse). Non-streamed bodies; a stream adds what
  STREAMED says, and Bedrock's stream goes to `stream_url`;
- `<case>.completion.json`, `<case>.chunks.jsonl`: a chat server's answer, whole and
  streamed (vLLM, as https://docs.vllm.ai documents its OpenAI-compatible server), read by
  the openai dialect as the pipeline does; `<case>.response.json`, `<case>.events.jsonl`:
  the Response and the events gateway/responses/from_chat.py makes of them;
- `<case>.native.json`, `<case>.native.jsonl`: OpenAI's own Response (and the TokenUsage
  it is charged as) and event stream (named SSE events, the charged usage last), relayed
  by NativeSpeaker with only the response's id, model, store and previous_response_id
  rewritten (see `relayed`).

Client bodies are checked against the openai SDK's request types, upstream bodies against
each vendor's request types (openai and anthropic SDKs, botocore's bedrock-runtime
model), Responses and events against OpenAI's OpenAPI schema (tests/openapi.py) and the
openai SDK's types. Goldens are edited by hand, like the other dialects' goldens.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from anthropic.types.message_create_params import (
    MessageCreateParamsNonStreaming,
    MessageCreateParamsStreaming,
)
from botocore.session import get_session
from botocore.validate import ParamValidator
from openai.types.chat.completion_create_params import (
    CompletionCreateParamsNonStreaming,
    CompletionCreateParamsStreaming,
)
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.responses.response_create_params import (
    ResponseCreateParamsNonStreaming,
    ResponseCreateParamsStreaming,
)

from gateway.providers import openai as chat_dialect
from gateway.providers.dialects import dialect
from gateway.providers.spec import ResponseMeta, Target, TokenUsage, UpstreamEvent
from gateway.providers.sse import SSEDecoder
from gateway.responses import from_chat
from gateway.responses.items import input_items
from gateway.responses.native import NativeSpeaker
from gateway.responses.objects import response_skeleton
from gateway.responses.support import untranslatable
from gateway.responses.surfaces import NativeSurface
from gateway.responses.to_chat import to_chat
from gateway.responses.turn import TERMINAL, Turn
from gateway.schemas.responses import validate_responses
from openapi import spec, validate
from sdk_types import sdk_validate

if TYPE_CHECKING:
    from gateway.providers.spec import StreamState, UpstreamRequest
    from gateway.schemas.openai import ChatCompletionRequest

FIXTURES = Path(__file__).parent.parent / "fixtures" / "responses"
REQUEST_ID = "9f86d081884c7d659a2feaa0c55ad015"
CREATED = 1757500100
META = ResponseMeta(id=f"resp_{REQUEST_ID}", created=CREATED, model="gpt-5-mini")

NATIVE, OPENAI, ANTHROPIC, BEDROCK = "native", "openai", "anthropic", "bedrock"
APIS = (NATIVE, OPENAI, ANTHROPIC, BEDROCK)
TARGETS = {
    NATIVE: Target(
        model_name="gpt-5-mini",
        provider="openai",
        dialect="openai",
        model="gpt-5-mini-2025-08-07",
        api_base="https://api.openai.com/v1",
        api_key="sk-openai-test",
    ),
    OPENAI: Target(
        model_name="gpt-5-mini",
        provider="hosted_vllm",
        dialect="openai",
        model="Qwen/Qwen3-32B",
        api_base="http://vllm.internal:8000/v1",
        api_key="sk-vllm-test",
    ),
    ANTHROPIC: Target(
        model_name="gpt-5-mini",
        provider="anthropic",
        dialect="anthropic",
        model="claude-sonnet-4-5-20250929",
        api_base="https://api.anthropic.com",
        api_key="sk-ant-test",
    ),
    BEDROCK: Target(
        model_name="gpt-5-mini",
        provider="bedrock",
        dialect="bedrock",
        model="us.anthropic.claude-sonnet-4-5-20250929-v1:0",
        api_base="",
        region="us-east-1",
    ),
}
# What a streamed request adds to the golden (non-streamed) body.
STREAMED: dict[str, dict[str, Any]] = {
    NATIVE: {"stream": True},
    OPENAI: {"stream": True, "stream_options": {"include_usage": True}},
    ANTHROPIC: {"stream": True},
    BEDROCK: {},  # the operation (ConverseStream) says it
}
# The fields NativeSpeaker writes into OpenAI's Response.
BRANDED = ("id", "model", "store", "previous_response_id")

Line = dict[str, Any]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def lines(name: str) -> list[Line]:
    return [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]


def cases(suffix: str) -> list[str]:
    return sorted(p.name.removesuffix(suffix) for p in FIXTURES.glob(f"*{suffix}"))


REQUEST_CASES = cases(".request.json")
ANSWER_CASES = cases(".completion.json")
STREAM_CASES = cases(".chunks.jsonl")
NATIVE_CASES = cases(".native.json")
NATIVE_STREAM_CASES = cases(".native.jsonl")


def client_call(case: str, *, stream: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The client's body (streamed if asked) and the stored conversation it continues."""
    golden = load(f"{case}.request.json")
    return golden["body"] | ({"stream": True} if stream else {}), golden["history"]


def translated(case: str, *, stream: bool = False) -> ChatCompletionRequest:
    """The pipeline's chat view of the request, which a chat provider is sent."""
    body, history = client_call(case, stream=stream)
    parsed = validate_responses(copy.deepcopy(body))
    items = [*history, *input_items(parsed, REQUEST_ID)]
    assert untranslatable(parsed, items, needs_a_turn=True) is None
    return to_chat(parsed, items)


def speaker_for(case: str, *, stream: bool = False) -> NativeSpeaker:
    body, history = client_call(case, stream=stream)
    store = validate_responses(copy.deepcopy(body)).store
    return NativeSpeaker(body, history, Turn(store=store))


def upstream_for(case: str, api: str, *, stream: bool) -> UpstreamRequest:
    chat = translated(case, stream=stream)
    target = TARGETS[api]
    if api == NATIVE:
        return speaker_for(case, stream=stream).build_request(chat, target)
    return dialect(target.dialect).build_request(chat, target)


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


# ---- what the SDKs and the schema say -------------------------------------------------


@functools.cache
def converse_shape(name: str) -> Any:
    return get_session().get_service_model("bedrock-runtime").operation_model(name).input_shape


def sdk_typed(body: dict[str, Any]) -> dict[str, Any]:
    """A native body as the openai SDK types it. Replayed assistant messages go without their
    ids (native.py), which OpenAI takes (it asks for output_text or refusal parts in one)
    though its spec and SDK type an output_text message only with an id: one is lent here."""
    items = body.get("input")
    if not isinstance(items, list):
        return body
    lent = [
        {"id": "msg_replayed", **item}
        if item.get("type") == "message" and item.get("role") == "assistant"
        else item
        for item in items
    ]
    return body | {"input": lent}


def converse_report(body: dict[str, Any], *, stream: bool) -> str:
    """botocore's view of a Converse body (REST JSON carries the image blobs as base64)."""
    params: dict[str, Any] = {**copy.deepcopy(body), "modelId": TARGETS[BEDROCK].model}
    for message in params["messages"]:
        for block in message["content"]:
            if "image" in block:
                source = block["image"]["source"]
                source["bytes"] = source["bytes"].encode()
    shape = converse_shape("ConverseStream" if stream else "Converse")
    report = ParamValidator().validate(params, shape)
    return str(report.generate_report()) if report.has_errors() else ""


@functools.cache
def event_components() -> dict[str, str]:
    """event type -> its own component, read from the schema's ResponseStreamEvent."""
    schemas = spec()["components"]["schemas"]
    out = {}
    for branch in schemas["ResponseStreamEvent"]["anyOf"]:
        name = branch["$ref"].rsplit("/", 1)[-1]
        (kind,) = schemas[name]["properties"]["type"]["enum"]
        out[kind] = name
    return out


def sdk_known(value: dict[str, Any]) -> dict[str, Any]:
    """The value without the wire fields the SDK's types lack: a Response's `store`, the
    `name` of response.function_call_arguments.done (the schema requires it)."""
    if value.get("object") == "response":
        return {key: item for key, item in value.items() if key != "store"}
    if "response" in value:
        return value | {"response": sdk_known(value["response"])}
    if value["type"] == "response.function_call_arguments.done":
        return {key: item for key, item in value.items() if key != "name"}
    return value


def check_response(response: dict[str, Any]) -> None:
    validate("Response", response)
    sdk_validate(Response, sdk_known(response))


def check_events(events: list[dict[str, Any]]) -> None:
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    own = event_components()
    for event in events:
        validate("ResponseStreamEvent", event)
        validate(own[event["type"]], event)
        sdk_validate(ResponseStreamEvent, sdk_known(event))
    assert events[-1]["type"] in TERMINAL


# ---- requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_fixtures_are_real_responses_requests(case: str) -> None:
    body, history = client_call(case)
    sdk_validate(ResponseCreateParamsNonStreaming, body)
    assert (body.get("previous_response_id") is None) is (not history)
    for item in history:
        validate("ItemResource", item)  # what GET .../input_items and the output list


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_golden(case: str, api: str, stream: bool) -> None:
    upstream = upstream_for(case, api, stream=stream)
    expected = load(f"{case}.upstream.json")[api]
    assert upstream.url == expected["stream_url" if stream and api == BEDROCK else "url"]
    assert upstream.headers == expected["headers"]
    assert upstream.body == expected["body"] | (STREAMED[api] if stream else {})
    assert upstream.stream is stream
    assert upstream.dropped_params == ()
    assert upstream.sigv4_region == expected.get("sigv4_region")
    assert upstream.framing == ("eventstream" if api == BEDROCK else "sse")


# Each SDK's request types, non-streamed and streamed (Bedrock: botocore's, see below).
REQUEST_TYPES: dict[str, tuple[Any, Any]] = {
    NATIVE: (ResponseCreateParamsNonStreaming, ResponseCreateParamsStreaming),
    OPENAI: (CompletionCreateParamsNonStreaming, CompletionCreateParamsStreaming),
    ANTHROPIC: (MessageCreateParamsNonStreaming, MessageCreateParamsStreaming),
}


@pytest.mark.parametrize("stream", [False, True])
@pytest.mark.parametrize("api", APIS)
@pytest.mark.parametrize("case", REQUEST_CASES)
def test_upstream_bodies_are_each_vendors_own_requests(case: str, api: str, stream: bool) -> None:
    body = upstream_for(case, api, stream=stream).body
    if api == BEDROCK:
        assert converse_report(body, stream=stream) == ""
    else:
        sdk_validate(REQUEST_TYPES[api][stream], sdk_typed(body) if api == NATIVE else body)


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_native_replay_drops_item_ids_and_unencrypted_reasoning(case: str) -> None:
    body, history = client_call(case)
    sent = load(f"{case}.upstream.json")[NATIVE]["body"]
    assert sent["store"] is False  # the gateway keeps the state itself
    assert "previous_response_id" not in sent
    if not history:
        assert sent["input"] == body["input"]
        return
    given = body["input"]
    current = [{"role": "user", "content": given}] if isinstance(given, str) else given
    assert sent["input"][len(sent["input"]) - len(current) :] == current
    replayed = sent["input"][: len(sent["input"]) - len(current)]
    kept = [item for item in history if item["type"] != "reasoning" or "encrypted_content" in item]
    assert replayed == [
        item if item["type"] == "reasoning" else {k: v for k, v in item.items() if k != "id"}
        for item in kept
    ]


# ---- translated answers ------------------------------------------------------------------


def skeleton(case: str) -> dict[str, Any]:
    body, _ = client_call(case)
    return response_skeleton(
        body, response_id=META.id, model=META.model, created_at=CREATED, status="in_progress"
    )


def chat_events(case: str) -> tuple[list[dict[str, Any]], StreamState]:
    """The events for the recorded chunks, each read by the openai dialect first."""
    state = chat_dialect.new_stream_state(META)
    events = from_chat.ChatEvents(skeleton(case), item_suffix=REQUEST_ID)
    out = events.start()
    for line in (FIXTURES / f"{case}.chunks.jsonl").read_text().splitlines():
        for chunk in chat_dialect.parse_stream_event(state, UpstreamEvent("message", line)):
            out += events.feed(chunk)
    assert chat_dialect.finish_stream(state) == []
    out += events.end(state.usage, completed_at=CREATED + 2)
    return out, state


@pytest.mark.parametrize("case", ANSWER_CASES)
def test_translated_response_golden(case: str) -> None:
    raw = (FIXTURES / f"{case}.completion.json").read_bytes()
    completion = chat_dialect.parse_response(raw, META).response
    response = from_chat.response_from_completion(
        completion, skeleton(case), item_suffix=REQUEST_ID, completed_at=CREATED + 2
    )
    assert response == load(f"{case}.response.json")
    check_response(response)


@pytest.mark.parametrize("case", STREAM_CASES)
def test_translated_events_golden(case: str) -> None:
    events, state = chat_events(case)
    assert events == lines(f"{case}.events.jsonl")
    check_events(events)
    # The stream ends in the Response the whole answer makes, usage included.
    assert events[-1]["response"] == load(f"{case}.response.json")
    whole = chat_dialect.parse_response((FIXTURES / f"{case}.completion.json").read_bytes(), META)
    assert state.usage == whole.usage  # what the stream is charged: the whole answer's


# ---- native answers ----------------------------------------------------------------------


def relayed(case: str, event: dict[str, Any]) -> dict[str, Any]:
    """What the client gets for OpenAI's event or Response: only BRANDED rewritten."""
    body, _ = client_call(case)
    out = copy.deepcopy(event)
    response = out if out.get("object") == "response" else out.get("response")
    if isinstance(response, dict):
        store = body.get("store", True)
        values = (META.id, META.model, store, body.get("previous_response_id"))
        response.update(zip(BRANDED, values, strict=True))
    return out


def native_lines(case: str) -> tuple[list[Line], dict[str, int]]:
    """The stream's events and, from its closing `end` line, the usage it is charged."""
    *events, end = lines(f"{case}.native.jsonl")
    return events, end["end"]["usage"]


@pytest.mark.parametrize("case", NATIVE_CASES)
def test_native_response_golden(case: str) -> None:
    golden = load(f"{case}.native.json")
    answer = golden["openai"]
    check_response(answer)  # the fixture is a real Response
    speaker = speaker_for(case)
    completion = speaker.parse_response(json.dumps(answer).encode(), META)
    response = dict(completion.response)
    assert response == relayed(case, answer)
    assert usage_dict(completion.usage) == golden["usage"]
    assert speaker.turn.final == response  # what the call stores
    check_response(response)


@pytest.mark.parametrize("case", NATIVE_STREAM_CASES)
def test_native_stream_golden(case: str) -> None:
    events, usage = native_lines(case)
    check_events([line["data"] for line in events])  # the fixture is a real stream
    speaker = speaker_for(case, stream=True)
    state = speaker.new_stream_state(META)
    wire = b"".join(
        f"event: {line['event']}\ndata: {json.dumps(line['data'])}\n\n".encode() for line in events
    )
    out = [
        relayed_event
        for event in SSEDecoder().feed(wire)
        for relayed_event in speaker.parse_stream_event(state, event)
    ]
    assert out == [relayed(case, line["data"]) for line in events]
    check_events(out)
    assert state.done
    assert speaker.finish_stream(state) == []
    assert usage_dict(state.usage) == usage
    assert speaker.turn.final == out[-1]["response"]
    assert speaker.turn.next_sequence == len(out)
    # The streamed answer is the whole one's.
    whole = load(f"{case}.native.json")["openai"]
    assert out[-1]["response"]["output"] == whole["output"]
    assert out[-1]["response"]["usage"] == whole["usage"]


@pytest.mark.parametrize("case", NATIVE_STREAM_CASES)
def test_native_events_go_out_named_and_the_terminal_one_waits(case: str) -> None:
    events, _ = native_lines(case)
    speaker = speaker_for(case, stream=True)
    surface = NativeSurface(speaker.turn)
    sent = b"".join(surface.encode(relayed(case, line["data"])) for line in events)
    decoded = [(e.name, json.loads(e.data)) for e in SSEDecoder().feed(sent)]
    expected = [relayed(case, line["data"]) for line in events]
    assert decoded == [(event["type"], event) for event in expected[:-1]]
    # The terminal event leaves in the tail, once the call has stored the response.
    tail = surface.tail(translated(case, stream=True), META, None, 1234)
    (last,) = SSEDecoder().feed(tail)
    assert (last.name, json.loads(last.data)) == (expected[-1]["type"], expected[-1])
    assert tail.endswith(b": x-gateway-cost-usd=0.001234\n\n")

"""The simulator's OpenAI Responses API (``/v1/responses``), read by the openai SDK.

Every Response and every stream event is validated strictly (unknown fields refused) against
the openai SDK's own types, and against OpenAI's OpenAPI schema (``tests/openapi.py``), as
are the request bodies the tests send (those meant to be refused aside). The chat vendor is
the yardstick: the same prompt gets the same answer and token counts on both APIs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import openai
import pytest
from openai.types.responses import Response, ResponseStreamEvent

from gateway.local.simulator.responses_output import seal, sealed_id
from gateway.local.simulator.scenario import TOOL_ARGUMENTS_JSON, count_tokens, split_chunks
from openapi import validate
from sdk_types import sdk_validate

if TYPE_CHECKING:
    import httpx

    from gateway.local.simulator import SimulatorApp

OPENAI_KEY = "sk-sim-openai-0123456789abcdef"
AUTH = {"authorization": f"Bearer {OPENAI_KEY}"}
WEATHER = "What's the weather in Paris?"
TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}}},
    "strict": False,
}
CHAT_TOOL = {
    "type": "function",
    "function": {key: value for key, value in TOOL.items() if key != "type"},
}
LONG = " ".join(f"word{n}" for n in range(40))  # the reply, "Echo: " and all, takes 53 tokens
THINKING = "The user wrote: {}. I will echo it back."


def request(text: str | list[dict[str, Any]] = "hello world", **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o-mini", "input": text, **extra}


def sse_events(raw: str) -> list[dict[str, Any]]:
    """``event:``/``data:`` blocks; each event's name is its ``type``."""
    events: list[dict[str, Any]] = []
    for block in raw.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines())
        event = json.loads(lines["data"])
        assert lines["event"] == event["type"]
        events.append(event)
    return events


def sdk_shape(response: dict[str, Any]) -> dict[str, Any]:
    """OpenAI echoes ``store`` in a Response (as its API reference's example shows), a field
    neither the SDK's type nor the schema's properties name: allowed, not checked."""
    return {key: value for key, value in response.items() if key != "store"}


def sdk_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event as the SDK's types know it: they predate function_call_arguments.done's
    ``name``, which OpenAI's schema requires."""
    if "response" in event:
        assert isinstance(event["response"]["store"], bool)
        return {**event, "response": sdk_shape(event["response"])}
    if event["type"] == "response.function_call_arguments.done":
        assert isinstance(event["name"], str)
        return {key: value for key, value in event.items() if key != "name"}
    return event


def checked_events(raw: str) -> list[dict[str, Any]]:
    events = sse_events(raw)
    for event in events:
        sdk_validate(ResponseStreamEvent, sdk_event(event))
        validate("ResponseStreamEvent", event)
    assert [event["sequence_number"] for event in events] == list(range(len(events)))
    return events


def checked_response(body: dict[str, Any]) -> dict[str, Any]:
    assert isinstance(body["store"], bool)
    sdk_validate(Response, sdk_shape(body))
    validate("Response", body)
    assert body["object"] == "response"
    assert body["id"].startswith("resp_")
    return body


def create(http: httpx.Client, body: dict[str, Any], stream: bool) -> dict[str, Any]:
    """The final Response: the JSON answer, or the terminal event's, checked either way."""
    validate("CreateResponse", {**body, "stream": stream})
    answer = http.post("/v1/responses", json={**body, "stream": stream}, headers=AUTH)
    assert answer.status_code == 200, answer.text
    if not stream:
        assert answer.headers["content-type"].startswith("application/json")
        return checked_response(answer.json())
    assert answer.headers["content-type"].startswith("text/event-stream")
    events = checked_events(answer.text)
    final = checked_response(events[-1]["response"])
    assert events[-1]["type"] == f"response.{final['status']}"
    assert final["status"] in ("completed", "incomplete")
    done = [e["item"] for e in events if e["type"] == "response.output_item.done"]
    assert done == final["output"]  # the stream says what the Response says
    return final


def message_text(response: dict[str, Any]) -> str:
    (message,) = [item for item in response["output"] if item["type"] == "message"]
    assert message["role"] == "assistant"
    (part,) = message["content"]
    assert part["annotations"] == []
    assert part["logprobs"] == []
    return str(part["text"])


def chat(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post("/v1/chat/completions", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


# --------------------------------------------------------------------------- answers


@pytest.mark.parametrize("stream", [False, True])
def test_text_answer(http: httpx.Client, stream: bool) -> None:
    response = create(http, request(store=False, temperature=0.2), stream)
    assert response["status"] == "completed"
    assert response["completed_at"] is not None
    assert response["incomplete_details"] is None
    assert [item["type"] for item in response["output"]] == ["message"]
    assert response["output"][0]["status"] == "completed"
    assert message_text(response) == "Echo: hello world"
    assert response["usage"] == {
        "input_tokens": 3,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 4,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": 7,
    }
    assert (response["store"], response["temperature"], response["model"]) == (
        False,
        0.2,
        "gpt-4o-mini",
    )
    assert response["reasoning"] == {"effort": None, "summary": None}


def test_sdk_reads_the_answer(oai: openai.OpenAI) -> None:
    response = oai.responses.create(model="gpt-4o-mini", input="hello world")
    assert response.output_text == "Echo: hello world"
    assert response.usage is not None
    assert response.usage.total_tokens == 7
    with oai.responses.stream(model="gpt-4o-mini", input="hello [sim-chunks:3]") as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert deltas == split_chunks("Echo: hello", 3)
    assert final.output_text == "Echo: hello"


@pytest.mark.parametrize("stream", [False, True])
def test_tool_call(http: httpx.Client, stream: bool) -> None:
    response = create(http, request(WEATHER, tools=[TOOL]), stream)
    (call,) = response["output"]
    assert call["type"] == "function_call"
    assert call["status"] == "completed"
    assert call["id"].startswith("fc_")
    assert call["call_id"].startswith("call_")
    assert (call["name"], call["arguments"]) == ("get_weather", TOOL_ARGUMENTS_JSON)
    assert response["usage"]["output_tokens"] == count_tokens(TOOL_ARGUMENTS_JSON)
    assert response["tools"] == [TOOL]
    assert response["tool_choice"] == "auto"


@pytest.mark.parametrize(
    ("choice", "calls"),
    [("required", True), ({"type": "function", "name": "get_weather"}, True), ("none", False)],
)
def test_tool_choice(http: httpx.Client, choice: object, calls: bool) -> None:
    text = "hello" if calls else WEATHER  # forced without "weather"; refused with it
    response = create(http, request(text, tools=[TOOL], tool_choice=choice), False)
    kinds = [item["type"] for item in response["output"]]
    assert kinds == (["function_call"] if calls else ["message"])
    assert response["tool_choice"] == choice


def round_trip(call_id: str = "call_1") -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": WEATHER},
        {"type": "function_call", "call_id": call_id, "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": call_id, "output": "Sunny, 21 C"},
    ]


@pytest.mark.parametrize("stream", [False, True])
def test_tool_result_gets_a_text_answer(http: httpx.Client, stream: bool) -> None:
    response = create(http, request(round_trip(), tools=[TOOL]), stream)
    assert message_text(response) == f"Echo: {WEATHER}"


def test_content_parts_and_echoed_tools(http: httpx.Client) -> None:
    """Posted as is: a list-content user message matches two of CreateResponse's ``oneOf``
    branches, so that schema cannot check this body (OpenAI takes it)."""
    parts = [
        {"type": "input_text", "text": "hello"},
        {"type": "input_image", "image_url": "data:image/png;base64,AAAA", "detail": "auto"},
        {"type": "input_text", "text": "world"},
    ]
    loose_tool = {"type": "function", "name": "get_weather"}  # no parameters, no strict
    body = request([{"role": "user", "content": parts}], tools=[loose_tool])
    answer = http.post("/v1/responses", json=body, headers=AUTH)
    response = checked_response(answer.json())
    assert message_text(response) == "Echo: hello world"
    assert response["tools"] == [{**loose_tool, "parameters": None, "strict": True}]


EQUIVALENT = [
    # (Responses body, the chat body a translating gateway sends for it)
    (request(), {"messages": [{"role": "user", "content": "hello world"}]}),
    (
        request(WEATHER, instructions="Be brief and kind.", tools=[TOOL]),
        {
            "messages": [
                {"role": "system", "content": "Be brief and kind."},
                {"role": "user", "content": WEATHER},
            ],
            "tools": [CHAT_TOOL],
        },
    ),
    (
        request(round_trip(), tools=[TOOL]),
        {
            "messages": [
                {"role": "user", "content": WEATHER},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": "{}"},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 21 C"},
            ],
            "tools": [CHAT_TOOL],
        },
    ),
]


@pytest.mark.parametrize(("native", "translated"), EQUIVALENT)
def test_chat_gives_the_same_answer(
    http: httpx.Client, native: dict[str, Any], translated: dict[str, Any]
) -> None:
    response = create(http, native, False)
    completion = chat(http, {"model": "gpt-4o-mini", **translated})
    usage, message = completion["usage"], completion["choices"][0]["message"]
    assert response["usage"]["input_tokens"] == usage["prompt_tokens"]
    assert response["usage"]["output_tokens"] == usage["completion_tokens"]
    (item,) = response["output"]
    if message.get("tool_calls"):
        (call,) = message["tool_calls"]
        assert (item["name"], item["arguments"]) == (
            call["function"]["name"],
            call["function"]["arguments"],
        )
    else:
        assert message_text(response) == message["content"]


# --------------------------------------------------------------------------- reasoning


@pytest.mark.parametrize("stream", [False, True])
def test_reasoning_with_summary(http: httpx.Client, stream: bool) -> None:
    body = request(
        model="o4-mini",
        reasoning={"effort": "low", "summary": "auto"},
        include=["reasoning.encrypted_content"],
    )
    response = create(http, body, stream)
    reasoning, message = response["output"]
    thinking = THINKING.format("hello world")
    assert reasoning["id"].startswith("rs_")
    assert reasoning["summary"] == [{"type": "summary_text", "text": thinking}]
    assert isinstance(reasoning["encrypted_content"], str)
    assert reasoning["encrypted_content"]
    assert message["type"] == "message"
    assert message_text(response) == "Echo: hello world"
    usage = response["usage"]
    assert usage["output_tokens_details"]["reasoning_tokens"] == count_tokens(thinking)
    assert usage["output_tokens"] == count_tokens(thinking) + 4
    assert response["reasoning"] == {"effort": "low", "summary": "auto"}


@pytest.mark.parametrize(
    ("model", "reasoning", "thinks"),
    [
        ("gpt-5-mini", None, True),
        ("o3", None, True),
        ("gpt-4o-mini", None, False),
        ("gpt-4o-mini", {"effort": "medium"}, True),
        ("gpt-5.1", {"effort": "none"}, False),
    ],
)
def test_which_requests_reason(
    http: httpx.Client, model: str, reasoning: dict[str, str] | None, thinks: bool
) -> None:
    body = request(model=model) | ({"reasoning": reasoning} if reasoning else {})
    response = create(http, body, False)
    kinds = [item["type"] for item in response["output"]]
    assert kinds == (["reasoning", "message"] if thinks else ["message"])
    if thinks:  # no summary asked for, no encrypted content either
        assert response["output"][0] == {"id": "rs_sim000001", "type": "reasoning", "summary": []}
        assert response["usage"]["output_tokens_details"]["reasoning_tokens"] > 0


def test_reasoning_then_tool_call(http: httpx.Client) -> None:
    response = create(http, request(WEATHER, model="gpt-5", tools=[TOOL]), True)
    assert [item["type"] for item in response["output"]] == ["reasoning", "function_call"]


# --------------------------------------------------------------------------- max_output_tokens


@pytest.mark.parametrize("stream", [False, True])
def test_max_output_tokens_ends_incomplete(http: httpx.Client, stream: bool) -> None:
    response = create(http, request(LONG, max_output_tokens=16), stream)
    assert response["status"] == "incomplete"
    assert response["incomplete_details"] == {"reason": "max_output_tokens"}
    assert response["completed_at"] is None
    assert response["max_output_tokens"] == 16
    (message,) = response["output"]
    assert message["status"] == "incomplete"
    text = message_text(response)
    assert f"Echo: {LONG}".startswith(text)
    assert count_tokens(text) <= 16
    assert count_tokens(text + " word") > 16  # every word the budget pays for
    assert response["usage"]["output_tokens"] == 16


def test_reasoning_can_spend_the_whole_budget(http: httpx.Client) -> None:
    body = request(LONG, model="o3", max_output_tokens=20, reasoning={"summary": "detailed"})
    response = create(http, body, True)
    (reasoning,) = response["output"]
    assert reasoning["type"] == "reasoning"
    assert response["status"] == "incomplete"
    usage = response["usage"]
    assert usage["output_tokens"] == usage["output_tokens_details"]["reasoning_tokens"] == 20


def test_enough_budget_completes(http: httpx.Client) -> None:
    response = create(http, request(max_output_tokens=16), False)
    assert response["status"] == "completed"
    assert message_text(response) == "Echo: hello world"


# --------------------------------------------------------------------------- the stream


def stream_types(http: httpx.Client, body: dict[str, Any]) -> list[str]:
    answer = http.post("/v1/responses", json={**body, "stream": True}, headers=AUTH)
    return [event["type"] for event in checked_events(answer.text)]


def test_stream_event_order_with_reasoning_and_text(http: httpx.Client) -> None:
    body = request("hi [sim-chunks:2]", model="o4-mini", reasoning={"summary": "auto"})
    assert stream_types(http, body) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.delta",
        "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done",
        "response.output_item.done",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_stream_event_order_with_a_tool_call(http: httpx.Client) -> None:
    body = request(WEATHER, tools=[TOOL])
    assert stream_types(http, body) == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        *["response.function_call_arguments.delta"] * 5,
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]


def test_stream_items_start_empty(http: httpx.Client) -> None:
    body = request("hi", model="o3", include=["reasoning.encrypted_content"], stream=True)
    events = checked_events(http.post("/v1/responses", json=body, headers=AUTH).text)
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"]
    assert added[0] == {"id": "rs_sim000001", "type": "reasoning", "summary": []}
    assert added[1]["status"] == "in_progress"
    assert added[1]["content"] == []
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["output"] == []
    assert "usage" not in events[0]["response"]  # the schema's usage is never null
    created = {e["response"]["created_at"] for e in events if "response" in e}
    assert len(created) == 1


def test_stream_chunks_header(http: httpx.Client) -> None:
    body = {**request("hello world"), "stream": True}
    answer = http.post("/v1/responses", json=body, headers={**AUTH, "x-sim-chunks": "4"})
    deltas = [
        e["delta"] for e in checked_events(answer.text) if e["type"] == "response.output_text.delta"
    ]
    assert deltas == split_chunks("Echo: hello world", 4)


# --------------------------------------------------------------------------- faults


def test_error_mid_stream(http: httpx.Client) -> None:
    body = request("hello world [sim-fault:error_event]", stream=True)
    answer = http.post("/v1/responses", json=body, headers=AUTH)
    assert answer.status_code == 200
    events = checked_events(answer.text)
    assert [e["type"] for e in events][-2:] == ["response.output_text.delta", "error"]
    assert events[-1] == {
        "type": "error",
        "code": "server_error",
        "message": "The server had an error while processing your request. Sorry about that!",
        "param": None,
        "sequence_number": len(events) - 1,
    }


def test_error_event_without_stream_is_a_500(http: httpx.Client) -> None:
    answer = http.post("/v1/responses", json=request("x [sim-fault:error_event]"), headers=AUTH)
    assert answer.status_code == 500
    assert answer.json()["error"]["type"] == "server_error"


@pytest.mark.parametrize(("fault", "deltas"), [("truncate", 2), ("stall_after_first", 1)])
def test_stream_cut_short(sim: SimulatorApp, http: httpx.Client, fault: str, deltas: int) -> None:
    sim.sim.stall_seconds = 0.1
    body = request(f"hello world [sim-fault:{fault}]", stream=True)
    events = checked_events(http.post("/v1/responses", json=body, headers=AUTH).text)
    assert events[-1]["type"] == "response.output_text.delta"
    assert sum(e["type"] == "response.output_text.delta" for e in events) == deltas


def test_invalid_json_mid_stream(http: httpx.Client) -> None:
    body = request("hello world [sim-fault:invalid_json]", stream=True)
    raw = http.post("/v1/responses", json=body, headers=AUTH).text
    *good, bad = raw.strip().split("\n\n")
    checked_events("\n\n".join(good))
    with pytest.raises(ValueError, match="Expecting"):
        sse_events(bad)


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [("429", 429, "rate_limit_exceeded"), ("500", 500, None), ("529", 503, None)],
)
def test_error_faults_are_openais(http: httpx.Client, fault: str, status: int, code: str) -> None:
    chat_answer = http.post(
        "/v1/chat/completions",
        json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]},
        headers={**AUTH, "x-sim-fault": fault},
    )
    answer = http.post("/v1/responses", json=request(), headers={**AUTH, "x-sim-fault": fault})
    assert answer.status_code == chat_answer.status_code == status
    assert answer.json() == chat_answer.json()
    assert answer.json()["error"]["code"] == code
    assert answer.headers.get("retry-after") == chat_answer.headers.get("retry-after")


def test_context_length_names_the_input(http: httpx.Client) -> None:
    answer = http.post("/v1/responses", json=request("hi [sim-fault:context_length]"), headers=AUTH)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["code"], error["param"]) == ("context_length_exceeded", "input")
    assert error["message"].startswith("Your input exceeds the context window of this model.")


def test_url_fault_prefix(base: str, sim: SimulatorApp) -> None:
    faulted = openai.OpenAI(
        base_url=f"{base}/_fault/429,times=1/v1", api_key=OPENAI_KEY, max_retries=0
    )
    with pytest.raises(openai.RateLimitError):
        faulted.responses.create(model="gpt-4o-mini", input="hi")
    assert faulted.responses.create(model="gpt-4o-mini", input="hi").output_text == "Echo: hi"
    assert [r["path"] for r in sim.requests] == ["/_fault/429,times=1/v1/responses"] * 2


# --------------------------------------------------------------------------- auth and checks


def test_auth_errors_are_the_chat_vendors(http: httpx.Client) -> None:
    for headers in ({}, {"authorization": "Basic abc"}):
        answer = http.post("/v1/responses", json=request(), headers=headers)
        chat_answer = http.post("/v1/chat/completions", json={}, headers=headers)
        assert answer.status_code == chat_answer.status_code == 401
        assert answer.json() == chat_answer.json()
    leaked = http.post("/v1/responses", json=request(), headers={**AUTH, "x-sim-fault": "401"})
    assert leaked.status_code == 401
    assert leaked.json()["error"]["code"] == "invalid_api_key"
    assert OPENAI_KEY not in leaked.text


def test_bad_json(http: httpx.Client) -> None:
    answer = http.post("/v1/responses", content=b"{", headers=AUTH)
    assert answer.status_code == 400
    assert answer.json()["error"]["type"] == "invalid_request_error"


REJECTED = [
    # (body, status, param, code)
    ({"input": "hi"}, 400, "model", "missing_required_parameter"),
    ({"model": "gpt-4o-mini"}, 400, "input", "missing_required_parameter"),
    (request(input={"role": "user"}), 400, "input", "invalid_type"),
    (request(input=["hi"]), 400, "input[0]", "invalid_type"),
    (request(input=[{"role": "user"}]), 400, "input[0].content", "missing_required_parameter"),
    (
        request(input=[{"type": "function_call_output", "output": "x"}]),
        400,
        "input[0].call_id",
        "missing_required_parameter",
    ),
    (request(tools=[CHAT_TOOL]), 400, "tools[0].name", "missing_required_parameter"),
    (request(max_output_tokens=15), 400, "max_output_tokens", "integer_below_min_value"),
    (request(max_output_tokens="64"), 400, "max_output_tokens", "invalid_type"),
    (
        request(previous_response_id="resp_abc"),
        404,
        "previous_response_id",
        "previous_response_not_found",
    ),
    (
        request(input=[{"type": "reasoning", "id": "rs_abc", "summary": []}], store=False),
        404,
        "input",
        None,
    ),
]


@pytest.mark.parametrize(("body", "status", "param", "code"), REJECTED)
def test_rejected_like_openai(
    http: httpx.Client, body: dict[str, Any], status: int, param: str, code: str | None
) -> None:
    answer = http.post("/v1/responses", json=body, headers=AUTH)
    assert answer.status_code == status, answer.text
    validate("ErrorResponse", answer.json())
    error = answer.json()["error"]
    assert (error["type"], error["param"], error["code"]) == ("invalid_request_error", param, code)


def test_unstored_reasoning_item_message(oai: openai.OpenAI) -> None:
    item: Any = {"type": "reasoning", "id": "rs_abc", "summary": []}
    with pytest.raises(openai.NotFoundError) as caught:
        oai.responses.create(model="o3", input=[item], store=False)
    assert caught.value.message.endswith(
        "Item with id 'rs_abc' not found. Items are not persisted when `store` is set to false. "
        "Try again with `store` set to true, or remove this item from your input."
    )


@pytest.mark.parametrize(
    ("store", "encrypted"), [(False, seal("rs_abc", "thought")), (True, None), (None, None)]
)
def test_replayed_reasoning_items_accepted(
    http: httpx.Client, store: bool | None, encrypted: str | None
) -> None:
    item: dict[str, Any] = {"type": "reasoning", "id": "rs_abc", "summary": []}
    if encrypted:
        item["encrypted_content"] = encrypted
    turn = [{"role": "user", "content": "hi"}, item, {"role": "user", "content": "again"}]
    body = request(turn, model="o3") | ({"store": store} if store is not None else {})
    response = create(http, body, False)
    assert message_text(response) == "Echo: again"
    assert response["store"] is (store is not False)


def test_encrypted_reasoning_is_refused_under_another_id(http: httpx.Client) -> None:
    again = {"role": "user", "content": "again"}
    first = create(
        http,
        request(model="o3", include=["reasoning.encrypted_content"], store=False),
        False,
    )
    reasoning = first["output"][0]
    assert sealed_id(reasoning["encrypted_content"]) == reasoning["id"]
    for item_id, accepted in ((reasoning["id"], True), ("rs_other", False)):
        turn = [{"role": "user", "content": "hi"}, reasoning | {"id": item_id}, again]
        answer = http.post(
            "/v1/responses", json=request(turn, model="o3", store=False), headers=AUTH
        )
        assert (answer.status_code == 200) is accepted
    error = answer.json()["error"]
    assert (answer.status_code, error["param"]) == (400, "input")
    assert error["message"] == (
        "The encrypted content for item rs_other could not be verified. Reason: "
        "Encrypted content item_id did not match the target item id."
    )


# --------------------------------------------------------------------------- input_tokens


@pytest.mark.parametrize("path", ["/v1/responses/input_tokens", "/responses/input_tokens"])
def test_input_tokens_match_the_response(http: httpx.Client, path: str) -> None:
    body = request(round_trip(), tools=[TOOL], instructions="Be brief.")
    validate("TokenCountsBody", body)
    counted = http.post(path, json=body, headers=AUTH)
    assert counted.status_code == 200
    validate("TokenCountsResource", counted.json())
    response = create(http, body, False)
    assert counted.json() == {
        "object": "response.input_tokens",
        "input_tokens": response["usage"]["input_tokens"],
    }


def test_input_tokens_with_the_sdk(oai: openai.OpenAI) -> None:
    counted = oai.responses.input_tokens.count(model="gpt-4o-mini", input="hello world")
    assert (counted.object, counted.input_tokens) == ("response.input_tokens", 3)


def test_input_tokens_refuse_create_only_fields(http: httpx.Client) -> None:
    body = request(max_output_tokens=64)
    answer = http.post("/v1/responses/input_tokens", json=body, headers=AUTH)
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert (error["param"], error["code"]) == ("max_output_tokens", "unknown_parameter")
    denied = http.post("/v1/responses/input_tokens", json=request())
    assert denied.status_code == 401


# --------------------------------------------------------------------------- recording


def test_requests_are_recorded(http: httpx.Client, sim: SimulatorApp) -> None:
    body = request(WEATHER, tools=[TOOL], stream=True)
    http.post("/responses", json=body, headers=AUTH)
    http.post("/v1/responses/input_tokens", json=request(), headers=AUTH)
    recorded = http.get("/_sim/requests").json()
    assert [(r["vendor"], r["path"]) for r in recorded] == [
        ("openai", "/responses"),
        ("openai", "/v1/responses/input_tokens"),
    ]
    assert recorded[0]["json"] == body
    assert recorded[0]["headers"]["authorization"] == f"Bearer {OPENAI_KEY}"
    assert sim.requests == recorded

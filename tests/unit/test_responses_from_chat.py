"""Chat answers and chunk streams -> Responses API objects and events.

Every Response and event is checked three ways: against OpenAI's OpenAPI schema
(tests/openapi.py), against the openai SDK's types, and (streams) through the SDK's own
accumulator. The SDK's types lack two fields that the wire has: Response.store (OpenAI's
responses carry it, see gateway/responses/objects.py) and the `name` of
response.function_call_arguments.done (the schema requires it). The SDK check runs with
extra="allow" on the whole value and with extra="forbid" on the value without those two.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pydantic
import pytest
from openai import omit
from openai.lib.streaming.responses._responses import ResponseStreamState
from openai.types.responses import Response, ResponseStreamEvent
from openai.types.responses.response_usage import ResponseUsage

from gateway.errors import UpstreamError
from gateway.providers import responses as chat
from gateway.providers.spec import ResponseMeta, TokenUsage
from gateway.responses import from_chat, objects
from gateway.responses.objects import response_skeleton, usage_object
from openapi import spec, validate
from sdk_types import sdk_validate

META = ResponseMeta("chatcmpl-abc", 1_700_000_000, "gpt-4o")
SUFFIX = "abc"
BODY: dict[str, Any] = {
    "model": "gpt-4o",
    "input": "What is the weather in Paris?",
    "instructions": "Be brief.",
    "tools": [
        {
            "type": "function",
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        }
    ],
}
USAGE = TokenUsage(input_tokens=40, output_tokens=12, cache_read_tokens=8, reasoning_tokens=5)
CALLS = [
    ("call_1", "get_weather", '{"city": "Paris"}'),
    ("call_2", "get_weather", '{"city": "Lyon"}'),
]


def skeleton(**fields: Any) -> dict[str, Any]:
    return response_skeleton(
        BODY | fields,
        response_id="resp_abc",
        model="gpt-4o",
        created_at=META.created,
        status="in_progress",
    )


def completion(
    content: str | None = None,
    *,
    reasoning: str | None = None,
    calls: list[tuple[str, str, str]] | None = None,
    finish_reason: Any = "stop",
    refusal: str | None = None,
) -> dict[str, Any]:
    tool_calls: Any = [
        {"id": i, "type": "function", "function": {"name": n, "arguments": a}}
        for i, n, a in calls or []
    ]
    out: dict[str, Any] = chat.completion(
        META,
        content=content,
        finish_reason=finish_reason,
        usage=USAGE,
        tool_calls=tool_calls,
        reasoning=reasoning,
    )
    if refusal:
        out["choices"][0]["message"]["refusal"] = refusal
    return out


def answer(done: dict[str, Any]) -> dict[str, Any]:
    return from_chat.response_from_completion(
        done, skeleton(), item_suffix=SUFFIX, completed_at=META.created + 2
    )


def chunks_of(done: dict[str, Any], size: int) -> list[Any]:
    """What the chat pipeline streams for `done`: pieces of `size`, each call's first
    fragment in the chunk naming it, the finish chunk, the usage chunk last."""
    choice = done["choices"][0]
    message = choice["message"]

    def pieces(text: str) -> list[str]:
        return [text[i : i + size] for i in range(0, len(text), size)]

    out = [chat.chunk(META, {"role": "assistant", "content": ""})]
    for key in ("reasoning_content", "content", "refusal"):
        out += [chat.chunk(META, {key: p}) for p in pieces(message.get(key) or "")]
    for index, call in enumerate(message.get("tool_calls") or []):
        first, *rest = pieces(call["function"]["arguments"]) or [""]
        function = {"name": call["function"]["name"], "arguments": first}
        named = {"index": index, "id": call["id"], "type": "function", "function": function}
        out.append(chat.chunk(META, {"tool_calls": [named]}))
        for fragment in rest:
            delta: Any = {"index": index, "function": {"arguments": fragment}}
            out.append(chat.chunk(META, {"tool_calls": [delta]}))
    out.append(chat.chunk(META, {}, choice["finish_reason"]))
    return [*out, chat.usage_chunk(META, USAGE)]


def stream(
    chunks: list[Any], usage: TokenUsage | None = None, **end: Any
) -> tuple[list[dict[str, Any]], from_chat.ChatEvents]:
    state = from_chat.ChatEvents(skeleton(), item_suffix=SUFFIX)
    events = state.start()
    for chunk in chunks:
        events += state.feed(chunk)
    events += state.end(usage, completed_at=META.created + 2, **end)
    return events, state


def types(events: list[dict[str, Any]]) -> list[str]:
    return [event["type"].removeprefix("response.") for event in events]


# ---- the three checks ------------------------------------------------------------------


def _without_store(response: dict[str, Any]) -> dict[str, Any]:
    assert response["store"] is True
    return {key: value for key, value in response.items() if key != "store"}


def check_response(response: dict[str, Any]) -> None:
    validate("Response", response)
    sdk_validate(Response, response, strict=False)
    sdk_validate(Response, _without_store(response))
    assert "output_text" not in response  # an SDK property, not on the wire


def event_components() -> dict[str, str]:
    """event type -> its own component, read from the schema's ResponseStreamEvent."""
    schemas = spec()["components"]["schemas"]
    out = {}
    for branch in schemas["ResponseStreamEvent"]["anyOf"]:
        name = branch["$ref"].rsplit("/", 1)[-1]
        (kind,) = schemas[name]["properties"]["type"]["enum"]
        out[kind] = name
    return out


def _sdk_known(event: dict[str, Any]) -> dict[str, Any]:
    """The event without the fields the SDK's types lack."""
    if "response" in event:
        return event | {"response": _without_store(event["response"])}
    if event["type"] == "response.function_call_arguments.done":
        return {key: value for key, value in event.items() if key != "name"}
    return event


def check_events(events: list[dict[str, Any]]) -> None:
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    own = event_components()
    for event in events:
        validate("ResponseStreamEvent", event)
        validate(own[event["type"]], event)
        sdk_validate(ResponseStreamEvent, event, strict=False)
        sdk_validate(ResponseStreamEvent, _sdk_known(event))


def fold(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The output items the events build, checking each .done against the deltas."""
    items: dict[int, dict[str, Any]] = {}
    for event in events:
        kind = event["type"].removeprefix("response.")
        at = event.get("output_index")
        if kind == "output_item.added":
            assert at not in items
            items[at] = copy.deepcopy(event["item"])
        elif kind == "content_part.added":
            assert event["content_index"] == len(items[at]["content"])
            items[at]["content"].append(copy.deepcopy(event["part"]))
        elif kind.endswith(".delta"):
            assert event["item_id"] == items[at]["id"]
            if kind == "function_call_arguments.delta":
                items[at]["arguments"] += event["delta"]
            else:
                part = items[at]["content"][event["content_index"]]
                part["refusal" if kind == "refusal.delta" else "text"] += event["delta"]
        elif kind == "function_call_arguments.done":
            assert (event["arguments"], event["name"]) == (
                items[at]["arguments"],
                items[at]["name"],
            )
        elif kind.endswith("_text.done") or kind == "refusal.done":
            part = items[at]["content"][event["content_index"]]
            key = "refusal" if kind == "refusal.done" else "text"
            assert event[key] == part[key]
        elif kind == "content_part.done":
            assert event["part"] == items[at]["content"][event["content_index"]]
        elif kind == "output_item.done":
            assert event["item"] | {"status": "-"} == items[at] | {"status": "-"}
            items[at] = event["item"]
    assert sorted(items) == list(range(len(items)))
    return [items[index] for index in sorted(items)]


def sdk_fold(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The output of the terminal event as the openai SDK's own stream accumulator sees
    it (it checks the order: items added before their deltas, each item done once)."""
    adapter: pydantic.TypeAdapter[Any] = pydantic.TypeAdapter(ResponseStreamEvent)
    state: ResponseStreamState[Any] = ResponseStreamState(
        input_tools=BODY["tools"], text_format=omit
    )
    seen = [out for event in events for out in state.handle_event(adapter.validate_python(event))]
    assert seen[-1].type in ("response.completed", "response.incomplete")
    return [item.to_dict(exclude_none=True) for item in seen[-1].response.output]


# ---- the envelope ----------------------------------------------------------------------


def test_skeleton_echoes_the_request_with_openai_defaults() -> None:
    response = skeleton()
    assert response == {
        "id": "resp_abc",
        "object": "response",
        "created_at": META.created,
        "status": "in_progress",
        "completed_at": None,
        "error": None,
        "incomplete_details": None,
        "model": "gpt-4o",
        "output": [],
        "background": False,
        "instructions": "Be brief.",
        "max_output_tokens": None,
        "max_tool_calls": None,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "prompt": None,
        "prompt_cache_key": None,
        "prompt_cache_retention": None,
        "reasoning": {"effort": None, "summary": None},
        "safety_identifier": None,
        "service_tier": "auto",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}},
        "tool_choice": "auto",
        "top_logprobs": 0,
        "top_p": 1.0,
        "truncation": "disabled",
        "metadata": {},
        "tools": [
            {"strict": None, "parameters": BODY["tools"][0]["parameters"], **BODY["tools"][0]}
        ],
    }
    check_response(response)
    assert BODY["tools"][0].get("strict") is None  # the body is not changed


def test_skeleton_echoes_what_the_client_set() -> None:
    fields = {
        "temperature": 0.2,
        "top_p": None,  # null reads as the default
        "tool_choice": {"type": "function", "name": "get_weather"},
        "text": {"verbosity": "low"},
        "reasoning": {"effort": "high", "summary": "auto"},
        "max_output_tokens": 256,
        "parallel_tool_calls": False,
        "previous_response_id": "resp_prev",
        "store": False,
        "metadata": {"team": "a"},
        "user": "u-1",
        "service_tier": "flex",
        "top_logprobs": 3,
        "truncation": "auto",
    }
    response = skeleton(**fields)
    expected = fields | {"top_p": 1.0, "text": {"format": {"type": "text"}, "verbosity": "low"}}
    assert {name: response[name] for name in fields} == expected
    validate("Response", response)
    sdk_validate(Response, response, strict=False)


def test_usage_object_counts_cached_tokens_in_the_input() -> None:
    usage = TokenUsage(
        input_tokens=100,
        output_tokens=20,
        cache_read_tokens=30,
        cache_write_tokens=10,
        reasoning_tokens=4,
    )
    out = usage_object(usage)
    assert out == {
        "input_tokens": 100,
        "input_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 10},
        "output_tokens": 20,
        "output_tokens_details": {"reasoning_tokens": 4},
        "total_tokens": 120,
    }
    validate("ResponseUsage", out)
    sdk_validate(ResponseUsage, out)


# ---- whole answers ---------------------------------------------------------------------

MESSAGE = {"id": f"msg_{SUFFIX}", "type": "message", "role": "assistant", "status": "completed"}


def text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}


def call_item(position: int, status: str = "completed") -> dict[str, Any]:
    call_id, name, arguments = CALLS[position]
    return {
        "id": f"fc_{SUFFIX}_{position}",
        "type": "function_call",
        "call_id": call_id,
        "name": name,
        "arguments": arguments,
        "status": status,
    }


REASONING = {
    "id": f"rs_{SUFFIX}",
    "type": "reasoning",
    "summary": [],
    "content": [{"type": "reasoning_text", "text": "The user wants weather."}],
    "status": "completed",
}

ANSWERS: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
    "text": (completion("Hello there."), [MESSAGE | {"content": [text_part("Hello there.")]}]),
    "tool_calls": (
        completion("Checking.", calls=CALLS, finish_reason="tool_calls"),
        [MESSAGE | {"content": [text_part("Checking.")]}, call_item(0), call_item(1)],
    ),
    "reasoning_text": (
        completion("Sunny.", reasoning="The user wants weather."),
        [REASONING, MESSAGE | {"content": [text_part("Sunny.")]}],
    ),
    "length": (
        completion("Sunny and", reasoning="The user wants weather.", finish_reason="length"),
        [REASONING, MESSAGE | {"status": "incomplete", "content": [text_part("Sunny and")]}],
    ),
    "length_in_calls": (
        completion(calls=CALLS, finish_reason="length"),
        [call_item(0, "incomplete"), call_item(1, "incomplete")],
    ),
    "content_filter": (
        completion(refusal="I can't help with that.", finish_reason="content_filter"),
        [
            MESSAGE
            | {
                "status": "incomplete",
                "content": [{"type": "refusal", "refusal": "I can't help with that."}],
            }
        ],
    ),
}
STATUS = {
    "length": ("incomplete", {"reason": "max_output_tokens"}),
    "length_in_calls": ("incomplete", {"reason": "max_output_tokens"}),
    "content_filter": ("incomplete", {"reason": "content_filter"}),
}


@pytest.mark.parametrize("case", ANSWERS)
def test_response_from_completion(case: str) -> None:
    done, output = ANSWERS[case]
    response = answer(done)
    check_response(response)
    assert response["output"] == output
    status, details = STATUS.get(case, ("completed", None))
    assert (response["status"], response["incomplete_details"]) == (status, details)
    assert response["completed_at"] == (META.created + 2 if status == "completed" else None)
    assert response["usage"] == usage_object(USAGE)
    assert response == skeleton() | {
        "status": status,
        "incomplete_details": details,
        "completed_at": response["completed_at"],
        "output": output,
        "usage": response["usage"],
    }


def test_the_pipelines_usage_wins_and_a_missing_one_is_left_out() -> None:
    done = completion("Hi")
    mine = TokenUsage(input_tokens=3, output_tokens=1)
    given = from_chat.response_from_completion(done, skeleton(), item_suffix=SUFFIX, usage=mine)
    assert given["usage"] == usage_object(mine)
    del done["usage"]
    missing = from_chat.response_from_completion(done, skeleton(), item_suffix=SUFFIX)
    assert "usage" not in missing
    check_response(missing)


def test_an_answer_without_a_choice_is_the_providers_failure() -> None:
    done = completion("Hi") | {"choices": []}
    with pytest.raises(UpstreamError):
        answer(done)


# ---- streams ---------------------------------------------------------------------------

TEXT_EVENTS = [
    "output_item.added",
    "content_part.added",
    *["output_text.delta"] * 3,
    "output_text.done",
    "content_part.done",
    "output_item.done",
]


def test_text_stream() -> None:
    events, state = stream(chunks_of(completion("Hello there."), 5))
    check_events(events)
    assert types(events) == ["created", "in_progress", *TEXT_EVENTS, "completed"]
    for event in events[:2]:
        assert event["response"] == skeleton()
    added, part_added, delta = events[2:5]
    assert added["item"] == MESSAGE | {"status": "in_progress", "content": []}
    assert part_added["part"] == text_part("")
    assert delta == {
        "type": "response.output_text.delta",
        "item_id": f"msg_{SUFFIX}",
        "output_index": 0,
        "content_index": 0,
        "delta": "Hello",
        "logprobs": [],
        "sequence_number": 4,
    }
    assert events[-4]["text"] == "Hello there."
    assert state.final is events[-1]["response"]


def test_reasoning_then_text_stream() -> None:
    done = completion("Sunny.", reasoning="The user wants weather.")
    events, _ = stream(chunks_of(done, 100))
    check_events(events)
    reasoning = [
        "output_item.added",
        "content_part.added",
        "reasoning_text.delta",
        "reasoning_text.done",
        "content_part.done",
        "output_item.done",
    ]
    text = [t for t in TEXT_EVENTS if t != "output_text.delta"]
    text.insert(2, "output_text.delta")
    assert types(events) == ["created", "in_progress", *reasoning, *text, "completed"]
    assert events[2]["item"] == REASONING | {"status": "in_progress", "content": []}
    assert events[3]["part"] == {"type": "reasoning_text", "text": ""}
    assert [e["output_index"] for e in events[2:-1]] == [0] * 6 + [1] * 6


def test_text_then_parallel_calls_with_interleaved_arguments() -> None:
    done = completion("Checking.", calls=CALLS, finish_reason="tool_calls")
    chunks = [chat.chunk(META, {"role": "assistant", "content": "Checking."})]
    for index, (call_id, name, _) in enumerate(CALLS):
        named: Any = {
            "index": index,
            "id": call_id,
            "type": "function",
            "function": {"name": name, "arguments": ""},
        }
        chunks.append(chat.chunk(META, {"tool_calls": [named]}))
    for step in range(0, 20, 4):  # call 0, call 1, call 0, ... four characters at a time
        for index, (*_, arguments) in enumerate(CALLS):
            if arguments[step : step + 4]:
                delta: Any = {"index": index, "function": {"arguments": arguments[step : step + 4]}}
                chunks.append(chat.chunk(META, {"tool_calls": [delta]}))
    chunks += [chat.chunk(META, {}, "tool_calls"), chat.usage_chunk(META, USAGE)]
    events, _ = stream(chunks)
    check_events(events)
    assert types(events) == [
        "created",
        "in_progress",
        "output_item.added",
        "content_part.added",
        "output_text.delta",
        "output_text.done",  # the first call closes the message ...
        "content_part.done",
        "output_item.done",
        "output_item.added",
        "output_item.added",  # ... but not the call before it
        *["function_call_arguments.delta"] * 9,
        "function_call_arguments.done",
        "output_item.done",
        "function_call_arguments.done",
        "output_item.done",
        "completed",
    ]
    deltas = [e for e in events if e["type"] == "response.function_call_arguments.delta"]
    assert [e["output_index"] for e in deltas] == [1, 2] * 4 + [1]
    assert [e["item_id"] for e in deltas[:2]] == [f"fc_{SUFFIX}_0", f"fc_{SUFFIX}_1"]
    added = [e["item"] for e in events if e["type"] == "response.output_item.added"]
    assert added[1] == call_item(0) | {"arguments": "", "status": "in_progress"}
    assert fold(events) == answer(done)["output"]
    assert events[-1]["response"] == answer(done)


def test_usage_chunk_after_the_finish_chunk_is_the_usage() -> None:
    chunks = [
        chat.chunk(META, {"content": "Hi"}),
        chat.chunk(META, {}, "stop"),
        chat.usage_chunk(META, USAGE),
    ]
    events, state = stream(chunks)
    assert types(events)[-1] == "completed"
    assert state.final["usage"] == usage_object(USAGE)
    mine = TokenUsage(input_tokens=1, output_tokens=1)
    events, state = stream(chunks, mine)
    assert state.final["usage"] == usage_object(mine)  # the pipeline's count wins


STREAM_CASES = [case for case in ANSWERS]


@pytest.mark.parametrize("size", [1, 4, 10_000])
@pytest.mark.parametrize("case", STREAM_CASES)
def test_any_chunking_folds_to_the_non_streamed_response(case: str, size: int) -> None:
    done, output = ANSWERS[case]
    events, state = stream(chunks_of(done, size))
    check_events(events)
    assert fold(events) == output
    assert state.final == answer(done)
    check_response(state.final)
    terminal = "incomplete" if case in STATUS else "completed"
    assert events[-1]["type"] == f"response.{terminal}"
    assert sdk_fold(events) == [{k: v for k, v in item.items() if v is not None} for item in output]


def test_an_empty_stream_still_completes() -> None:
    state = from_chat.ChatEvents(skeleton(), item_suffix=SUFFIX)
    events = state.end()  # no start(): end starts the stream itself
    assert types(events) == ["created", "in_progress", "completed"]
    check_events(events)
    assert state.final["output"] == []
    assert "usage" not in state.final
    assert state.end() == []


def test_feed_starts_the_stream_and_later_chunks_are_ignored() -> None:
    state = from_chat.ChatEvents(skeleton(), item_suffix=SUFFIX)
    events = state.feed(chat.chunk(META, {"content": "Hi"}))
    assert types(events)[:3] == ["created", "in_progress", "output_item.added"]
    assert state.start() == []
    events += state.end(finish_reason="stop")
    check_events(events)
    assert state.feed(chat.chunk(META, {"content": "late"})) == []


def test_kinds_coming_back_get_new_items() -> None:
    chunks = [
        chat.chunk(META, {"reasoning_content": "Hmm."}),
        chat.chunk(META, {"content": "A"}),
        chat.chunk(META, {"reasoning_content": " More."}),
        chat.chunk(META, {"refusal": "No."}),
        chat.chunk(META, {"content": "B"}, "stop"),
    ]
    events, state = stream(chunks)
    check_events(events)
    assert [(item["id"], item["type"]) for item in state.final["output"]] == [
        (f"rs_{SUFFIX}", "reasoning"),
        (f"msg_{SUFFIX}", "message"),
        (f"rs_{SUFFIX}_1", "reasoning"),
        (f"msg_{SUFFIX}_1", "message"),
    ]
    assert state.final["output"][3]["content"] == [
        {"type": "refusal", "refusal": "No."},
        text_part("B"),
    ]
    assert fold(events) == state.final["output"]


def test_a_fragment_for_a_closed_call_is_the_providers_failure() -> None:
    named: Any = {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": "{"}}
    state = from_chat.ChatEvents(skeleton(), item_suffix=SUFFIX)
    state.feed(chat.chunk(META, {"tool_calls": [named]}))
    state.feed(chat.chunk(META, {"content": "text closes the call"}))
    late: Any = {"index": 0, "function": {"arguments": "}"}}
    with pytest.raises(UpstreamError):
        state.feed(chat.chunk(META, {"tool_calls": [late]}))


def test_a_call_without_id_or_early_name_is_still_answerable() -> None:
    first: Any = {"index": 0, "function": {"arguments": "{}"}}
    named: Any = {"index": 0, "function": {"name": "f"}}
    events, state = stream(
        [chat.chunk(META, {"tool_calls": [first]}), chat.chunk(META, {"tool_calls": [named]})]
    )
    check_events(events)
    (item,) = state.final["output"]
    assert (item["call_id"], item["name"], item["arguments"]) == (f"call_{SUFFIX}_0", "f", "{}")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("upstream_timeout", "server_error"),
        ("rate_limit_exceeded", "rate_limit_exceeded"),
        ("context_length_exceeded", "invalid_prompt"),
    ],
)
def test_failed_carries_the_output_so_far(code: str, expected: str) -> None:
    state = from_chat.ChatEvents(skeleton(), item_suffix=SUFFIX)
    events = state.start() + state.feed(chat.chunk(META, {"content": "Hel"}))
    events += state.failed(code, "The provider stopped answering.")
    check_events(events)
    assert types(events)[-2:] == ["output_text.delta", "failed"]  # nothing is closed
    response = state.final
    check_response(response)
    assert response["status"] == "failed"
    assert response["error"] == {"code": expected, "message": "The provider stopped answering."}
    assert response["output"] == [MESSAGE | {"status": "incomplete", "content": [text_part("Hel")]}]
    assert state.end() == []


def test_error_codes_are_the_schemas() -> None:
    enum = spec()["components"]["schemas"]["ResponseErrorCode"]["enum"]
    assert set(enum) == objects.RESPONSE_ERROR_CODES
    assert set(objects.ERROR_CODES.values()) <= set(enum)


def test_events_do_not_change_after_they_are_handed_out() -> None:
    state = from_chat.ChatEvents(skeleton(), item_suffix=SUFFIX)
    events = state.feed(chat.chunk(META, {"content": "Hi"}))
    before = copy.deepcopy(events)
    state.feed(chat.chunk(META, {"content": " there"}))
    state.end(USAGE, "stop")
    assert events == before


# ---- the schema helper -----------------------------------------------------------------


def test_the_extracted_schema_is_closed() -> None:
    schemas = spec()["components"]["schemas"]
    text = json.dumps(schemas)
    refs = set(re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', text))
    assert refs <= schemas.keys()
    assert set(spec()["roots"]) <= schemas.keys()


def test_validate_names_the_failing_path() -> None:
    event = {
        "type": "response.output_item.added",
        "output_index": 0,
        "sequence_number": 0,
        "item": {
            "id": "m",
            "type": "message",
            "role": "assistant",
            "status": "done",
            "content": [],
        },
    }
    with pytest.raises(AssertionError, match=r"\$\.item\.status: 'done' is not one of"):
        validate("ResponseStreamEvent", event)

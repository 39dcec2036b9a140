"""The official openai SDK's `client.responses` against `make dev`, on every kind of path.

Four models: gpt-4o-mini (OpenAI's Responses API, relayed natively), llama-3.1-8b (an
OpenAI-compatible vLLM server), claude-3-5-haiku (Anthropic Messages) and
bedrock-claude-3-5-haiku (Bedrock Converse), the last three translated through chat.
Sync and async clients, the SDK's stream helper and raw event iteration, state kept in
the stack's emulated S3 (retrieve, input items, delete, `previous_response_id`),
function calling, input token counts and the SDK's error classes. Every Response,
event, item list and error body is validated against OpenAI's published schema
(tests/openapi.py); what each provider got is read back from the stack's simulator.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import openai
import pytest

from openapi import validate
from servers import Stack, local_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from openai.types.responses import Response, ResponseStreamEvent
    from pydantic import BaseModel

MODELS = ["gpt-4o-mini", "llama-3.1-8b", "claude-3-5-haiku", "bedrock-claude-3-5-haiku"]
TRANSLATED = MODELS[1:]
# The API each model's request reached (non-streamed): the native one, or chat's translation.
UPSTREAM = {
    "gpt-4o-mini": "/v1/responses",
    "llama-3.1-8b": "/v1/chat/completions",
    "claude-3-5-haiku": "/v1/messages",
    "bedrock-claude-3-5-haiku": "/model/us.anthropic.claude-3-5-haiku-20241022-v1:0/converse",
    "bedrock-nova-lite": "/model/us.amazon.nova-lite-v1:0/converse",
}
WEATHER = "What is the weather?"  # with WEATHER_TOOL, the simulator calls it for Paris
WEATHER_TOOL: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with local_stack() as running:
        yield running


@pytest.fixture(scope="module")
def client(stack: Stack) -> openai.OpenAI:
    return openai.OpenAI(base_url=stack.base_url, api_key=stack.master_key, max_retries=0)


def sim_requests(stack: Stack) -> list[dict[str, Any]]:
    """What the stack's provider simulator has received so far."""
    found = re.search(r"simulator:\s+(\S+)", stack.banner)
    assert found is not None, stack.banner
    requests: list[dict[str, Any]] = httpx.get(f"{found.group(1)}/_sim/requests").json()
    return requests


def wire(stack: Stack) -> str:
    """The body of the last provider request, as text to search."""
    return json.dumps(sim_requests(stack)[-1]["json"])


def dump(value: BaseModel) -> dict[str, Any]:
    # warnings off: the stream helper's ParsedResponse serializes through Response's item
    # unions and pydantic warns for each branch it is not; the values are what was sent.
    return value.model_dump(mode="json", exclude_unset=True, warnings=False)


def as_sent(response: Response) -> dict[str, Any]:
    """The Response as the gateway sent it: the stream helper's ParsedResponse adds
    `parsed` to text parts and `parsed_arguments` to calls (None without a text_format)."""
    body = dump(response)
    for item in body["output"]:
        item.pop("parsed_arguments", None)
        for part in item.get("content") or []:
            part.pop("parsed", None)
    return body


def checked(response: Response) -> Response:
    validate("Response", dump(response))
    return response


def checked_events(events: list[ResponseStreamEvent]) -> list[ResponseStreamEvent]:
    for event in events:
        validate("ResponseStreamEvent", dump(event))
    assert [event.sequence_number for event in events] == list(range(len(events)))
    return events


def respond(client: openai.OpenAI, *, stream: bool, **fields: Any) -> Response:
    """A Response from create, or the stream helper's final one."""
    if not stream:
        return checked(client.responses.create(**fields))
    with client.responses.stream(**fields) as events:
        checked_events(list(events))
        return checked(events.get_final_response())


def assert_error(
    error: openai.APIStatusError, status: int, code: str | None = None
) -> dict[str, Any]:
    """OpenAI's error envelope with a request id; the `error` object, for further checks."""
    assert error.status_code == status
    validate("ErrorResponse", error.response.json())
    assert error.request_id
    assert isinstance(error.body, dict)
    assert error.body["code"] == code or code is None
    return error.body


# ---- answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", [*MODELS, "bedrock-nova-lite"])
def test_create(client: openai.OpenAI, stack: Stack, model: str) -> None:
    response = checked(
        client.responses.create(
            model=model,
            instructions="Be brief.",
            input="hello there gateway",
            temperature=0.2,
            metadata={"team": "contract"},
        )
    )
    assert response.id == f"resp_{response._request_id}"
    assert response.object == "response"
    assert response.model == model
    assert response.status == "completed"
    assert response.output_text == "Echo: hello there gateway"
    assert (response.instructions, response.temperature) == ("Be brief.", 0.2)
    assert response.metadata == {"team": "contract"}
    assert dump(response)["store"] is True  # sent, though the SDK's model has no field
    assert response.previous_response_id is None
    usage = response.usage
    assert usage is not None
    assert usage.input_tokens > 0
    assert usage.output_tokens > 0
    assert usage.total_tokens == usage.input_tokens + usage.output_tokens
    upstream = sim_requests(stack)[-1]
    assert upstream["path"] == UPSTREAM[model]
    assert "Be brief." in json.dumps(upstream["json"])


@pytest.mark.parametrize("model", MODELS)
def test_async_client(stack: Stack, model: str) -> None:
    async def run() -> tuple[Response, str, Response]:
        async with openai.AsyncOpenAI(
            base_url=stack.base_url, api_key=stack.master_key, max_retries=0
        ) as client:
            whole = await client.responses.create(model=model, input="async hi")
            async with client.responses.stream(model=model, input="async hi") as stream:
                deltas = [
                    event.delta
                    async for event in stream
                    if event.type == "response.output_text.delta"
                ]
                final = await stream.get_final_response()
            return whole, "".join(deltas), final

    whole, text, final = anyio.run(run)
    checked(whole)
    checked(final)
    assert whole.id != final.id
    assert final.id.startswith("resp_")
    assert whole.output_text == final.output_text == text == "Echo: async hi"
    assert whole.usage == final.usage


@pytest.mark.parametrize("model", MODELS)
def test_stream_helper_folds_to_the_final_response(client: openai.OpenAI, model: str) -> None:
    asked: Any = {"model": model, "input": "stream me [sim-chunks:5] please"}
    with client.responses.stream(**asked) as stream:
        events = checked_events(list(stream))
        final = checked(stream.get_final_response())
    whole = checked(client.responses.create(**asked))

    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    deltas = [event for event in events if event.type == "response.output_text.delta"]
    assert len(deltas) == 5
    (done,) = [event for event in events if event.type == "response.output_text.done"]
    (item,) = [event.item for event in events if event.type == "response.output_item.done"]
    assert "".join(event.delta for event in deltas) == done.text == final.output_text
    assert {event.item_id for event in deltas} == {done.item_id} == {item.id}
    assert final.output_text == whole.output_text
    assert final.usage == whole.usage
    assert events[-1].type == "response.completed"
    assert as_sent(final) == as_sent(events[-1].response)
    assert as_sent(final)["output"] == [dump(item)]
    assert events[0].type == "response.created"
    assert events[0].response.id == final.id
    assert events[0].response.status == "in_progress"
    assert final.status == "completed"


@pytest.mark.parametrize("model", MODELS)
def test_stream_helper_with_a_function_tool(client: openai.OpenAI, model: str) -> None:
    with client.responses.stream(model=model, input=WEATHER, tools=[WEATHER_TOOL]) as stream:
        events = checked_events(list(stream))
        final = checked(stream.get_final_response())

    deltas = [e for e in events if e.type == "response.function_call_arguments.delta"]
    (done,) = [e for e in events if e.type == "response.function_call_arguments.done"]
    (call,) = final.output
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert call.call_id
    assert "".join(event.delta for event in deltas) == done.arguments == call.arguments
    assert json.loads(call.arguments) == {"location": "Paris"}
    assert {event.item_id for event in deltas} == {done.item_id} == {call.id}
    assert final.output_text == ""


@pytest.mark.parametrize("model", MODELS)
def test_raw_stream_is_numbered_and_stored(client: openai.OpenAI, model: str) -> None:
    events = checked_events(
        list(client.responses.create(model=model, input="raw [sim-chunks:3] go", stream=True))
    )
    assert events[0].type == "response.created"
    assert events[-1].type == "response.completed"
    final = events[-1].response
    assert final.id.startswith("resp_")
    assert events[0].response.id == final.id
    assert final.output_text == "Echo: raw  go"
    stored = checked(client.responses.retrieve(final.id))
    assert dump(stored) == dump(final)


@pytest.mark.parametrize("model", MODELS)
def test_a_stream_failing_midway_ends_failed_and_is_not_stored(
    client: openai.OpenAI, model: str
) -> None:
    stream = client.responses.create(
        model=model, input="left right [sim-chunks:2] [sim-fault:error_event]", stream=True
    )
    events = checked_events(list(stream))
    assert [event.type for event in events][-2:] == ["error", "response.failed"]
    error, failed = events[-2:]
    assert error.type == "error"
    assert error.message
    assert failed.type == "response.failed"
    assert failed.response.status == "failed"
    assert failed.response.error is not None
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(failed.response.id)


# ---- state -------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_retrieve_input_items_and_delete(client: openai.OpenAI, model: str) -> None:
    created = checked(
        client.responses.create(
            model=model,
            input=[
                {"role": "user", "content": "first"},
                {"role": "user", "content": [{"type": "input_text", "text": "second"}]},
            ],
        )
    )
    assert dump(checked(client.responses.retrieve(created.id))) == dump(created)

    raw = client.responses.input_items.with_raw_response.list(created.id)
    validate("ResponseItemList", raw.http_response.json())
    newest_first = raw.parse()
    texts = [
        part.text
        for item in newest_first.data
        if item.type == "message"
        for part in item.content
        if part.type == "input_text"
    ]
    assert texts == ["second", "first"]
    assert newest_first.has_more is False
    page = client.responses.input_items.list(created.id, order="asc", limit=1)
    assert [item.id for item in page.data] == [newest_first.data[1].id]
    assert page.has_more is True
    every = list(client.responses.input_items.list(created.id, order="asc", limit=1))
    assert [item.id for item in every] == [item.id for item in reversed(newest_first.data)]

    deleted = client.responses.with_raw_response.delete(created.id).http_response.json()
    assert deleted == {"id": created.id, "object": "response.deleted", "deleted": True}
    for gone in (
        lambda: client.responses.retrieve(created.id),
        lambda: client.responses.input_items.list(created.id),
        lambda: client.responses.delete(created.id),
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            gone()
        assert created.id in assert_error(caught.value, 404, "not_found")["message"]


@pytest.mark.parametrize("model", MODELS)
def test_two_turns_by_previous_response_id(client: openai.OpenAI, stack: Stack, model: str) -> None:
    first = checked(client.responses.create(model=model, input="My name is Ada."))
    second = checked(
        client.responses.create(
            model=model, input="What is my name?", previous_response_id=first.id
        )
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "Echo: What is my name?"
    sent = sim_requests(stack)[-1]["json"]
    replayed = json.dumps(sent)
    assert "My name is Ada." in replayed
    assert first.output_text in replayed  # the assistant's turn, replayed from the store
    if model == "gpt-4o-mini":  # the gateway keeps the state: OpenAI gets it all, unstored
        assert sent["store"] is False
        assert "previous_response_id" not in sent


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", MODELS)
def test_function_call_round_trip(
    client: openai.OpenAI, stack: Stack, model: str, stream: bool
) -> None:
    asked: Any = {"model": model, "tools": [WEATHER_TOOL], "stream": stream}
    first = respond(client, input=WEATHER, **asked)
    (call,) = first.output
    assert call.type == "function_call"
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"location": "Paris"}
    assert first.status == "completed"

    result: Any = {"type": "function_call_output", "call_id": call.call_id, "output": "18 degrees"}
    second = respond(client, input=[result], previous_response_id=first.id, **asked)
    assert second.previous_response_id == first.id
    assert [item.type for item in second.output] == ["message"]
    assert second.output_text.startswith("Echo: ")
    replayed = wire(stack)
    assert WEATHER in replayed
    assert call.call_id in replayed
    assert "18 degrees" in replayed


@pytest.mark.parametrize("model", MODELS)
def test_unstored_output_items_replayed_as_input(
    client: openai.OpenAI, stack: Stack, model: str
) -> None:
    """The stateless way (store: false; the client sends the output back), as the Agents
    SDK does without server-side state."""
    question: Any = {"role": "user", "content": WEATHER}
    first = checked(
        client.responses.create(model=model, input=[question], tools=[WEATHER_TOOL], store=False)
    )
    assert dump(first)["store"] is False
    (call,) = first.output
    assert call.type == "function_call"
    result: Any = {"type": "function_call_output", "call_id": call.call_id, "output": "18 degrees"}
    replay: Any = [question, *(item.model_dump(exclude_none=True) for item in first.output)]
    second = checked(
        client.responses.create(
            model=model, input=[*replay, result], tools=[WEATHER_TOOL], store=False
        )
    )
    assert second.output_text.startswith("Echo: ")
    replayed = wire(stack)
    assert call.call_id in replayed
    assert "18 degrees" in replayed
    with pytest.raises(openai.NotFoundError):
        client.responses.retrieve(first.id)


# ---- input tokens --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "estimated"),
    [
        ("gpt-4o-mini", False),
        ("claude-3-5-haiku", False),
        ("bedrock-claude-3-5-haiku", False),
        ("llama-3.1-8b", True),
    ],
)
def test_input_tokens_count(client: openai.OpenAI, model: str, estimated: bool) -> None:
    prompt: Any = {"instructions": "Be brief.", "input": WEATHER, "tools": [WEATHER_TOOL]}
    raw = client.responses.input_tokens.with_raw_response.count(model=model, **prompt)
    validate("TokenCountsResource", raw.http_response.json())
    counted = raw.parse()
    assert counted.object == "response.input_tokens"
    assert counted.input_tokens > 0
    assert (raw.headers.get("x-gateway-token-count") == "estimated") is estimated
    if not estimated:  # the provider's own count: what it then charges
        usage = client.responses.create(model=model, **prompt).usage
        assert usage is not None
        assert counted.input_tokens == usage.input_tokens


# ---- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("model", TRANSLATED)
def test_a_hosted_tool_on_a_translated_model_is_bad_request(
    client: openai.OpenAI, stack: Stack, model: str
) -> None:
    before = len(sim_requests(stack))
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=model, input="news?", tools=[{"type": "web_search"}])
    error = assert_error(caught.value, 400, "unsupported_parameter")
    assert "'web_search'" in error["message"]
    assert error["param"] == "tools[0]"
    assert len(sim_requests(stack)) == before


@pytest.mark.parametrize("model", MODELS)
def test_an_unknown_previous_response_is_not_found(
    client: openai.OpenAI, stack: Stack, model: str
) -> None:
    before = len(sim_requests(stack))
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model=model, input="hi", previous_response_id="resp_nope")
    assert assert_error(caught.value, 404, "not_found")["param"] == "previous_response_id"
    assert len(sim_requests(stack)) == before


def test_a_bad_key_is_authentication_error(stack: Stack) -> None:
    bad = openai.OpenAI(base_url=stack.base_url, api_key="sk-wrong", max_retries=0)
    for refused in (
        lambda: bad.responses.create(model="gpt-4o-mini", input="hi"),
        lambda: bad.responses.retrieve("resp_anything"),
        lambda: bad.responses.input_tokens.count(model="gpt-4o-mini", input="hi"),
    ):
        with pytest.raises(openai.AuthenticationError) as caught:
            refused()
        assert_error(caught.value, 401, "invalid_api_key")


def test_an_unknown_model_is_not_found(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.responses.create(model="nope", input="hi")
    assert "'nope'" in assert_error(caught.value, 404, "model_not_found")["message"]


def test_a_virtual_key_sees_only_its_own_responses(client: openai.OpenAI, stack: Stack) -> None:
    made = httpx.post(
        f"{stack.root}/key/generate",
        headers={"Authorization": f"Bearer {stack.master_key}"},
        json={"models": ["gpt-4o-mini"]},
        timeout=10,
    )
    assert made.status_code == 200, made.text
    scoped = openai.OpenAI(base_url=stack.base_url, api_key=made.json()["key"], max_retries=0)
    theirs = client.responses.create(model="gpt-4o-mini", input="not yours")
    mine = checked(scoped.responses.create(model="gpt-4o-mini", input="mine"))
    assert scoped.responses.retrieve(mine.id).id == mine.id
    for foreign in (
        lambda: scoped.responses.retrieve(theirs.id),
        lambda: scoped.responses.input_items.list(theirs.id),
        lambda: scoped.responses.delete(theirs.id),
        lambda: scoped.responses.create(
            model="gpt-4o-mini", input="hi", previous_response_id=theirs.id
        ),
    ):
        with pytest.raises(openai.NotFoundError) as caught:
            foreign()
        assert_error(caught.value, 404, "not_found")
    with pytest.raises(openai.PermissionDeniedError) as denied:
        scoped.responses.create(model="claude-3-5-haiku", input="hi")
    assert_error(denied.value, 403, "model_not_allowed")
    assert client.responses.retrieve(theirs.id).id == theirs.id  # untouched


# Instructions alone become a system message and no turn: Messages and Converse need one,
# so the gateway refuses the request by the client's own field before any upstream call.
@pytest.mark.parametrize("model", ["claude-3-5-haiku", "bedrock-claude-3-5-haiku"])
def test_instructions_without_input_are_refused_by_the_clients_field(
    client: openai.OpenAI, stack: Stack, model: str
) -> None:
    before = len(sim_requests(stack))
    with pytest.raises(openai.BadRequestError) as caught:
        client.responses.create(model=model, instructions="Be brief.")
    error = assert_error(caught.value, 400)
    assert error["param"] == "input"
    assert "messages" not in error["message"]
    assert len(sim_requests(stack)) == before


def test_instructions_alone_are_answered_where_the_provider_takes_them(
    client: openai.OpenAI,
) -> None:
    response = client.responses.create(model="llama-3.1-8b", instructions="Say hello.")
    assert response.status == "completed"
    assert response.output_text

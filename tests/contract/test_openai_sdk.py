"""The official openai SDK as a client of the gateway, for every dialect.

Sync and async clients, streams with usage, tool calls, and the SDK's error
classes; streamed deltas concatenated equal the non-streamed answer.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
import openai
import pytest

from conftest import MASTER_KEY

if TYPE_CHECKING:
    from gateway.local.simulator import SimulatorApp

MODELS = ["gpt-4o-mini", "claude-3-5-haiku", "bedrock-claude"]
WEATHER_TOOL: Any = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}


@pytest.fixture
def client(gateway_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=MASTER_KEY, max_retries=0)


@pytest.mark.parametrize("model", MODELS)
def test_non_streamed(client: openai.OpenAI, model: str) -> None:
    completion = client.chat.completions.create(
        model=model,
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello there gateway"},
        ],
        max_tokens=50,
        temperature=0.2,
    )
    assert completion.object == "chat.completion"
    assert completion.model == model
    assert completion.id.startswith("chatcmpl-")
    choice = completion.choices[0]
    assert choice.message.content == "Echo: hello there gateway"
    assert choice.finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens > 0
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


@pytest.mark.parametrize("model", MODELS)
def test_stream_with_usage_equals_non_streamed(client: openai.OpenAI, model: str) -> None:
    messages: Any = [{"role": "user", "content": "stream me [sim-chunks:7] please"}]
    whole = client.chat.completions.create(model=model, messages=messages)
    chunks = list(
        client.chat.completions.create(
            model=model, messages=messages, stream=True, stream_options={"include_usage": True}
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert len([c for c in chunks if c.choices and c.choices[0].delta.content]) >= 5
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert all(reason is None for reason in finishes[:-1])
    assert {c.id for c in chunks} == {chunks[0].id}
    usage_chunks = [c for c in chunks if c.usage is not None]
    assert len(usage_chunks) == 1
    assert chunks[-1].usage is not None
    assert chunks[-1].choices == []
    assert whole.usage is not None
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens


@pytest.mark.parametrize("model", MODELS)
def test_stream_without_usage_has_no_usage_chunk(client: openai.OpenAI, model: str) -> None:
    chunks = list(
        client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert all(c.usage is None for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"


@pytest.mark.parametrize("model", MODELS)
def test_tool_calls_round_trip(client: openai.OpenAI, model: str) -> None:
    messages: Any = [{"role": "user", "content": "what is the weather in Paris?"}]
    first = client.chat.completions.create(model=model, messages=messages, tools=[WEATHER_TOOL])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"location": "Paris"}

    streamed = list(
        client.chat.completions.create(
            model=model, messages=messages, tools=[WEATHER_TOOL], stream=True
        )
    )
    deltas = [tc for c in streamed if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas[0].id
    assert all(d.index == 0 for d in deltas)
    assert all(d.id in (None, deltas[0].id) for d in deltas)
    assert deltas[0].function is not None
    assert deltas[0].function.name == "get_weather"
    arguments = "".join((d.function.arguments or "") for d in deltas if d.function)
    assert json.loads(arguments) == {"location": "Paris"}
    assert streamed[-1].choices[0].finish_reason == "tool_calls"

    follow_up = [
        *messages,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"temp_c": 18}'},
        {"role": "user", "content": "thanks"},
    ]
    second = client.chat.completions.create(model=model, messages=follow_up, tools=[WEATHER_TOOL])
    # Translated dialects merge the tool result and the next user turn into one user message.
    content = second.choices[0].message.content or ""
    assert content.startswith("Echo: ")
    assert content.endswith("thanks")


@pytest.mark.parametrize("model", MODELS)
def test_async_client(gateway_url: str, model: str) -> None:
    async def run() -> tuple[str | None, str]:
        async with openai.AsyncOpenAI(
            base_url=f"{gateway_url}/v1", api_key=MASTER_KEY, max_retries=0
        ) as client:
            whole = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "async hi"}]
            )
            stream = await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": "async hi"}], stream=True
            )
            text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
            return whole.choices[0].message.content, text

    whole, streamed = anyio.run(run)
    assert whole == streamed == "Echo: async hi"


def test_models_list(client: openai.OpenAI) -> None:
    ids = {model.id for model in client.models.list()}
    assert {"gpt-4o-mini", "claude-3-5-haiku", "bedrock-claude"} <= ids


ERROR_CLASSES: list[tuple[str, type[openai.APIError]]] = [
    ("400", openai.BadRequestError),
    ("429", openai.RateLimitError),
    ("500", openai.InternalServerError),
    ("503", openai.InternalServerError),
]


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize(("fault", "error_class"), ERROR_CLASSES, ids=[e[0] for e in ERROR_CLASSES])
def test_error_classes(
    client: openai.OpenAI,
    gateway_env: SimulatorApp,
    model: str,
    fault: str,
    error_class: type[openai.APIError],
) -> None:
    gateway_env.set_fault(fault)
    with pytest.raises(error_class) as caught:
        client.chat.completions.create(model=model, messages=[{"role": "user", "content": "x"}])
    assert caught.value.response.headers["x-request-id"]
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["code"]


def test_auth_and_not_found_classes(gateway_url: str, client: openai.OpenAI) -> None:
    bad = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


@pytest.mark.parametrize("model", MODELS)
def test_stream_error_after_start_raises_in_the_sdk(
    client: openai.OpenAI, gateway_env: SimulatorApp, model: str
) -> None:
    gateway_env.set_fault("error_event")
    stream = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "x y z"}], stream=True
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass

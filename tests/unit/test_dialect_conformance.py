"""One conformance test over every dialect the catalog names: its public surface, its
finish-reason vocabulary, its NEEDS_A_TURN flag against what build_request does, a
stream folded to equal the same request's response (text, tool calls, finish reason,
usage), and its error mapping, each against the provider simulator speaking its wire
format. Adding a dialect means adding its row to ENTRIES (the test fails until then).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import pytest

from chunks import fold
from conftest import ANTHROPIC_KEY, OPENAI_KEY
from gateway import errors
from gateway.config import parse_deployment
from gateway.local.google_key import service_account
from gateway.providers import transport
from gateway.providers.catalog import CATALOG
from gateway.providers.dialects import dialect
from gateway.providers.spec import ResponseMeta, Target
from gateway.schemas.openai import ChatCompletionRequest

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from gateway.local.simulator import SimulatorApp

# A case per catalog row with a dialect of its own (rows that only speak OpenAI's API are
# the openai case): the litellm_params of a deployment on the simulator at `base` (`root`
# is the simulator's own address, where its token endpoints live).
ENTRIES: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "openai": lambda base, root: {
        "model": "openai/gpt-4o-mini",
        "api_base": f"{base}/v1",
        "api_key": OPENAI_KEY,
    },
    "anthropic": lambda base, root: {
        "model": "anthropic/claude-3-5-haiku-20241022",
        "api_base": base,
        "api_key": ANTHROPIC_KEY,
    },
    "bedrock": lambda base, root: {
        "model": "bedrock/us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "api_base": base,
        "aws_region_name": "us-east-1",
    },
    "azure": lambda base, root: {
        "model": "azure/gpt-4o-mini-prod",
        "api_base": base,
        "api_key": OPENAI_KEY,
    },
    "azure_ai": lambda base, root: {
        "model": "azure_ai/gpt-4o-mini",
        "api_base": f"{base}/models",
        "api_key": OPENAI_KEY,
    },
    "gemini": lambda base, root: {
        "model": "gemini/gemini-2.5-flash",
        "api_base": base,
        "api_key": "AIza-sim-conformance",
    },
    "vertex_ai": lambda base, root: {
        "model": "vertex_ai/gemini-2.5-flash",
        "api_base": base,
        "vertex_project": "conformance",
        "vertex_location": "us-central1",
        "vertex_credentials": _service_account(f"{root}/token"),
    },
}


def _service_account(token_uri: str) -> str:
    return json.dumps({**SERVICE_ACCOUNT, "token_uri": token_uri})


SERVICE_ACCOUNT = service_account("", "conformance@sim.iam.gserviceaccount.com")  # one key
FINISH_VOCABULARY = {"stop", "length", "tool_calls", "content_filter", "function_call"}
CONTRACT = (
    "build_request",
    "parse_response",
    "new_stream_state",
    "parse_stream_event",
    "finish_stream",
    "map_error",
    "configure",
)
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
CASES = sorted(ENTRIES)


@pytest.fixture
async def upstream() -> AsyncIterator[None]:
    """The transport's client belongs to the event loop that made it: one per test."""
    transport.client.cache_clear()
    yield
    await transport.close()


def target(name: str, base: str, root: str | None = None) -> Target:
    entry = {"model_name": "m", "litellm_params": ENTRIES[name](base, root or base)}
    return parse_deployment(entry, os.environ.get).target


def request(**extra: Any) -> ChatCompletionRequest:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello there"}], **extra}
    return ChatCompletionRequest.model_validate(body)


def test_every_dialect_and_every_row_of_its_own_is_tested() -> None:
    assert {row.dialect for row in CATALOG.values()} == {CATALOG[name].dialect for name in ENTRIES}
    assert {name for name, row in CATALOG.items() if row.dialect != "openai"} <= set(ENTRIES)


@pytest.mark.parametrize("name", CASES)
def test_the_public_surface(name: str) -> None:
    module = dialect(CATALOG[name].dialect)
    for function in CONTRACT:
        assert callable(getattr(module, function)), function
    assert module.PARAMS is None or isinstance(module.PARAMS, Mapping)
    assert set(module.FINISH_REASONS.values()) <= FINISH_VOCABULARY
    assert all(issubclass(error, errors.GatewayError) for error in module.ERRORS.values())
    assert isinstance(module.NEEDS_A_TURN, bool)
    assert isinstance(module.SAMPLING_DEFAULTS, Mapping)


@pytest.mark.parametrize("name", CASES)
def test_the_turn_flag_matches_build_request(name: str, sim: SimulatorApp) -> None:
    """The Responses layer trusts NEEDS_A_TURN to refuse instructions-only input by the
    client's own field, so the flag and the dialect's refusal must agree."""
    speaker = dialect(CATALOG[name].dialect)
    system_only = ChatCompletionRequest.model_validate(
        {"model": "m", "messages": [{"role": "system", "content": "Be brief."}]}
    )
    if speaker.NEEDS_A_TURN:
        with pytest.raises(errors.InvalidRequestError) as caught:
            speaker.build_request(system_only, target(name, sim.state.url))
        assert caught.value.param == "messages"
    else:
        speaker.build_request(system_only, target(name, sim.state.url))


async def _complete(
    name: str, base: str, chat: ChatCompletionRequest, root: str | None = None
) -> dict[str, Any]:
    speaker = dialect(CATALOG[name].dialect)
    meta = ResponseMeta("chatcmpl-conformance", 1_700_000_000, "m")
    sent = speaker.build_request(chat, target(name, base, root))
    raw = await transport.send(sent, 30)
    if raw.status != 200:
        raise speaker.map_error(raw.status, raw.body, raw.headers)
    completion = speaker.parse_response(raw.body, meta)
    choice = dict(completion.response)["choices"][0]
    return {"choice": choice, "usage": completion.usage}


async def _stream(name: str, base: str, chat: ChatCompletionRequest) -> dict[str, Any]:
    speaker = dialect(CATALOG[name].dialect)
    meta = ResponseMeta("chatcmpl-conformance", 1_700_000_000, "m")
    sent = speaker.build_request(chat.model_copy(update={"stream": True}), target(name, base))
    assert sent.stream
    state = speaker.new_stream_state(meta)
    chunks: list[Any] = []
    async with transport.open_stream(sent, 30) as stream:
        assert stream.status == 200
        assert stream.is_stream()
        async for batch in stream.batches():
            for event in batch:
                chunks += speaker.parse_stream_event(state, event)
    chunks += speaker.finish_stream(state)
    return {"folded": fold(chunks, meta), "usage": state.usage}


def _tool_calls(message: Mapping[str, Any]) -> list[tuple[str, Any]]:
    return [
        (call["function"]["name"], json.loads(call["function"]["arguments"]))
        for call in message.get("tool_calls") or []
    ]


@pytest.mark.anyio
@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    "extra",
    [
        {"messages": [{"role": "user", "content": "hello there [sim-chunks:7]"}]},
        {
            "messages": [{"role": "user", "content": "What is the weather in Paris?"}],
            "tools": [WEATHER_TOOL],
        },
        {"messages": [{"role": "user", "content": "a long answer please"}], "max_tokens": 3},
    ],
    ids=["text", "tool-call", "length"],
)
async def test_a_folded_stream_equals_the_response(
    name: str, extra: dict[str, Any], sim: SimulatorApp, upstream: None
) -> None:
    chat = request(**extra)
    whole = await _complete(name, sim.state.url, chat)
    streamed = await _stream(name, sim.state.url, chat)
    message, folded = whole["choice"]["message"], streamed["folded"]["message"]
    assert (folded.get("content") or "") == (message.get("content") or "")
    assert _tool_calls(folded) == _tool_calls(message)
    assert streamed["folded"]["finish_reason"] == whole["choice"]["finish_reason"]
    assert whole["choice"]["finish_reason"] in FINISH_VOCABULARY
    if "tools" in extra:
        assert whole["choice"]["finish_reason"] == "tool_calls"
    if streamed["usage"] is None:  # a vendor that reports none in streams: estimated later
        assert not CATALOG[name].stream_usage
        return
    assert streamed["usage"].input_tokens == whole["usage"].input_tokens
    assert streamed["usage"].output_tokens == whole["usage"].output_tokens


@pytest.mark.anyio
@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("429", errors.RateLimitError),
        ("500", errors.UpstreamError),
        ("503", errors.ServiceUnavailableError),
        ("401", errors.UpstreamAuthError),
        ("400", errors.InvalidRequestError),
        ("context_length", errors.ContextLengthError),
    ],
)
async def test_errors_map_to_the_same_gateway_errors(
    name: str,
    fault: str,
    expected: type[errors.GatewayError],
    sim: SimulatorApp,
    upstream: None,
) -> None:
    base = f"{sim.state.url}/_fault/{fault}"
    with pytest.raises(errors.GatewayError) as caught:
        await _complete(name, base, request(), root=sim.state.url)
    assert isinstance(caught.value, expected), (type(caught.value), caught.value)
    assert OPENAI_KEY not in str(caught.value)
    assert ANTHROPIC_KEY not in str(caught.value)

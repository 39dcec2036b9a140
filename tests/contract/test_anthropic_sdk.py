"""The official anthropic SDK as a client of the gateway's Messages API.

Against `make dev`: an Anthropic model and a Bedrock Claude model (served natively)
and OpenAI-compatible and Bedrock Converse models (translated through chat). Sync
and async clients; a stream's final message equals the non-streamed answer (ids
aside), thinking signatures and tool input included; count_tokens agrees with the
usage Claude reports; every refusal is the SDK's own error class with a request id.
Upstream faults run against the in-process gateway, where the simulator is at hand.

anthropic 2.x sends `api_key` as `Authorization: Bearer` and no longer takes
`temperature` as a keyword, so `x-api-key` and temperature go in as extra headers
and body.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import anthropic
import anyio
import httpx
import pytest
from anthropic.types import Message

from conftest import MASTER_KEY
from servers import Stack, local_stack

if TYPE_CHECKING:
    from collections.abc import Iterator

    from gateway.local.simulator import SimulatorApp

CLAUDE = ["claude-3-5-haiku", "bedrock-claude-3-5-haiku"]
MODELS = [*CLAUDE, "gpt-4o-mini"]
TRANSLATED = ["gpt-4o-mini", "bedrock-nova-lite"]
WEATHER_TOOL: Any = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {
        "type": "object",
        "properties": {"location": {"type": "string"}},
        "required": ["location"],
    },
}
THINKING: Any = {"type": "enabled", "budget_tokens": 1024}
WEATHER: Any = [{"role": "user", "content": "what is the weather in Paris?"}]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    with local_stack() as running:
        yield running


@pytest.fixture(scope="module")
def client(stack: Stack) -> anthropic.Anthropic:
    # The SDK appends /v1/messages itself: its base URL is the root.
    return anthropic.Anthropic(base_url=stack.root, api_key=stack.master_key, max_retries=0)


def sim_requests(stack: Stack) -> list[dict[str, Any]]:
    """What the stack's provider simulator has received so far."""
    found = re.search(r"simulator:\s+(\S+)", stack.banner)
    assert found is not None, stack.banner
    requests: list[dict[str, Any]] = httpx.get(f"{found.group(1)}/_sim/requests").json()
    return requests


def sent_betas(upstream: dict[str, Any]) -> list[str]:
    """Betas as the provider got them: Anthropic's header, or InvokeModel's `anthropic_beta`."""
    header = upstream["headers"].get("anthropic-beta")
    if header is not None:
        return [name.strip() for name in header.split(",")]
    betas: list[str] = (upstream["json"] or {}).get("anthropic_beta", [])
    return betas


def blocks(message: Message) -> list[dict[str, Any]]:
    """Content blocks without ids (the simulator numbers tool calls per request)."""
    dumped = [block.model_dump(exclude_none=True) for block in message.content]
    return [
        {k: v for k, v in block.items() if k not in ("id", "parsed_output")} for block in dumped
    ]


def assert_error(error: anthropic.APIStatusError, status: int, kind: str) -> str:
    """Anthropic's error envelope and its request id; the message, for naming checks."""
    assert error.status_code == status
    assert isinstance(error.body, dict)
    assert error.body["type"] == "error"
    assert error.body["error"]["type"] == kind
    assert error.request_id
    assert error.request_id == error.body["request_id"]
    message: str = error.body["error"]["message"]
    assert MASTER_KEY not in message
    return message


# ---- answers ---------------------------------------------------------------------------


@pytest.mark.parametrize("model", [*MODELS, "bedrock-nova-lite"])
def test_create(client: anthropic.Anthropic, stack: Stack, model: str) -> None:
    message = client.messages.create(
        model=model,
        system="Be brief.",
        messages=[{"role": "user", "content": "hello there gateway"}],
        max_tokens=50,
        extra_body={"temperature": 0.2},
    )
    assert message.id.startswith("msg_")
    assert message.model == model
    assert message.role == "assistant"
    assert blocks(message) == [{"type": "text", "text": "Echo: hello there gateway"}]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens > 0
    upstream = sim_requests(stack)[-1]["json"]
    # Native bodies and chat carry it at the top; Converse under inferenceConfig.
    temperature = upstream.get(
        "temperature", upstream.get("inferenceConfig", {}).get("temperature")
    )
    assert temperature == 0.2


@pytest.mark.parametrize("model", [*MODELS, "bedrock-nova-lite"])
def test_async_client(stack: Stack, model: str) -> None:
    async def run() -> tuple[Message, str, Message]:
        async with anthropic.AsyncAnthropic(
            base_url=stack.root, api_key=stack.master_key, max_retries=0
        ) as client:
            messages: Any = [{"role": "user", "content": "async hi"}]
            whole = await client.messages.create(model=model, messages=messages, max_tokens=50)
            async with client.messages.stream(
                model=model, messages=messages, max_tokens=50
            ) as stream:
                text = "".join([piece async for piece in stream.text_stream])
                final = await stream.get_final_message()
            return whole, text, final

    whole, text, final = anyio.run(run)
    assert whole.model == final.model == model
    assert whole.id.startswith("msg_")
    assert final.id.startswith("msg_")
    assert whole.id != final.id
    assert blocks(whole) == blocks(final) == [{"type": "text", "text": "Echo: async hi"}]
    assert text == "Echo: async hi"
    assert whole.usage == final.usage


# Thinking is sent to every model but Nova Lite, whose provider refuses reasoning.
STREAM_CASES = [*((m, THINKING) for m in MODELS), ("bedrock-nova-lite", anthropic.omit)]


@pytest.mark.parametrize(("model", "thinking"), STREAM_CASES, ids=[c[0] for c in STREAM_CASES])
def test_stream_with_tools_and_thinking_equals_create(
    client: anthropic.Anthropic, stack: Stack, model: str, thinking: Any
) -> None:
    asked: Any = {"model": model, "max_tokens": 2048, "tools": [WEATHER_TOOL]}
    asked["thinking"] = thinking
    whole = client.messages.create(messages=WEATHER, **asked)
    with client.messages.stream(messages=WEATHER, **asked) as stream:
        final = stream.get_final_message()

    assert final.id.startswith("msg_")
    assert final.model == model
    assert blocks(final) == blocks(whole)
    assert (final.stop_reason, whole.stop_reason) == ("tool_use", "tool_use")
    assert final.usage == whole.usage
    streamed_call, whole_call = final.content[-1], whole.content[-1]
    assert streamed_call.type == whole_call.type == "tool_use"
    assert streamed_call.name == "get_weather"
    assert streamed_call.input == whole_call.input == {"location": "Paris"}
    assert streamed_call.id
    thoughts = [b for b in final.content if b.type == "thinking"]
    if model in CLAUDE:
        assert len(thoughts) == 1
        assert thoughts[0].thinking
        assert thoughts[0].signature  # relayed from Claude, the same streamed or not
    else:
        # The simulator's chat models return no reasoning; the budget went as an effort.
        assert thoughts == []
    if model == "gpt-4o-mini":
        chats = [r["json"] for r in sim_requests(stack) if r["path"] == "/v1/chat/completions"]
        assert chats[-1]["reasoning_effort"] == chats[-2]["reasoning_effort"] == "low"
        assert chats[-1]["stream"] is True


@pytest.mark.parametrize(("model", "thinking"), STREAM_CASES, ids=[c[0] for c in STREAM_CASES])
def test_tool_result_round_trip(client: anthropic.Anthropic, model: str, thinking: Any) -> None:
    asked: Any = {"model": model, "max_tokens": 2048, "tools": [WEATHER_TOOL]}
    asked["thinking"] = thinking
    first = client.messages.create(messages=WEATHER, **asked)
    call = first.content[-1]
    assert call.type == "tool_use"
    follow_up: Any = [
        *WEATHER,
        # Thinking blocks go back as they came: Claude checks their signatures.
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": call.id, "content": "18 degrees"},
                {"type": "text", "text": "thanks"},
            ],
        },
    ]
    whole = client.messages.create(messages=follow_up, **asked)
    with client.messages.stream(messages=follow_up, **asked) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()

    assert blocks(final) == blocks(whole)
    assert final.stop_reason == whole.stop_reason == "end_turn"
    assert final.usage == whole.usage
    texts = [b.text for b in final.content if b.type == "text"]
    assert texts == [text]
    assert text.startswith("Echo: ")
    assert text.endswith("thanks")
    assert [b.type for b in final.content if b.type == "tool_use"] == []


# ---- count_tokens ------------------------------------------------------------------------


@pytest.mark.parametrize("model", CLAUDE)
def test_count_tokens_equals_claude_usage(client: anthropic.Anthropic, model: str) -> None:
    prompt: Any = {"system": "Be brief.", "tools": [WEATHER_TOOL], "messages": WEATHER}
    raw = client.messages.with_raw_response.count_tokens(model=model, **prompt)
    counted = raw.parse().input_tokens
    used = client.messages.create(model=model, max_tokens=50, **prompt).usage.input_tokens
    assert counted == used
    assert counted > 0
    assert "x-gateway-token-count" not in raw.headers  # the provider's count, not a guess
    assert raw.headers["request-id"]


@pytest.mark.parametrize("model", TRANSLATED)
def test_count_tokens_is_estimated_for_chat_models(client: anthropic.Anthropic, model: str) -> None:
    raw = client.messages.with_raw_response.count_tokens(
        model=model, system="Be brief.", tools=[WEATHER_TOOL], messages=WEATHER
    )
    assert raw.headers["x-gateway-token-count"] == "estimated"
    counted = raw.parse().input_tokens
    assert isinstance(counted, int)
    assert counted > 0


# ---- refusals ------------------------------------------------------------------------------


def test_unknown_model_is_not_found(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as caught:
        client.messages.create(model="nope", max_tokens=10, messages=WEATHER)
    assert "'nope'" in assert_error(caught.value, 404, "not_found_error")
    with pytest.raises(anthropic.NotFoundError) as counted:
        client.messages.count_tokens(model="nope", messages=WEATHER)
    assert_error(counted.value, 404, "not_found_error")


@pytest.mark.parametrize("model", MODELS)
def test_bad_input_is_bad_request(client: anthropic.Anthropic, stack: Stack, model: str) -> None:
    before = len(sim_requests(stack))
    with pytest.raises(anthropic.BadRequestError) as empty:
        client.messages.create(model=model, max_tokens=10, messages=[])
    assert "messages" in assert_error(empty.value, 400, "invalid_request_error")
    # The SDK requires max_tokens; a raw post shows the gateway does too.
    with pytest.raises(anthropic.BadRequestError) as no_max:
        client.post("/v1/messages", body={"model": model, "messages": WEATHER}, cast_to=Message)
    assert "max_tokens" in assert_error(no_max.value, 400, "invalid_request_error")
    assert len(sim_requests(stack)) == before  # refused before any upstream call


def test_wrong_key_is_authentication_error(stack: Stack) -> None:
    bearer = anthropic.Anthropic(base_url=stack.root, api_key="sk-wrong", max_retries=0)
    token = anthropic.Anthropic(base_url=stack.root, auth_token="sk-wrong", max_retries=0)
    for client in (bearer, token):
        with pytest.raises(anthropic.AuthenticationError) as caught:
            client.messages.create(model="gpt-4o-mini", max_tokens=10, messages=WEATHER)
        assert_error(caught.value, 401, "authentication_error")


def test_x_api_key_header(client: anthropic.Anthropic, stack: Stack) -> None:
    def as_x_api_key(value: str) -> Any:
        return {"Authorization": anthropic.omit, "x-api-key": value}

    with pytest.raises(anthropic.AuthenticationError) as caught:
        client.messages.create(
            model="gpt-4o-mini",
            max_tokens=10,
            messages=WEATHER,
            extra_headers=as_x_api_key("sk-wrong"),
        )
    assert_error(caught.value, 401, "authentication_error")
    served = client.messages.create(
        model="gpt-4o-mini",
        max_tokens=10,
        messages=[{"role": "user", "content": "hi"}],
        extra_headers=as_x_api_key(stack.master_key),
    )
    assert blocks(served) == [{"type": "text", "text": "Echo: hi"}]


def test_key_without_the_model_is_permission_denied(stack: Stack) -> None:
    made = httpx.post(
        f"{stack.root}/key/generate",
        headers={"Authorization": f"Bearer {stack.master_key}"},
        json={"models": ["gpt-4o-mini"]},
        timeout=10,
    )
    assert made.status_code == 200, made.text
    client = anthropic.Anthropic(base_url=stack.root, api_key=made.json()["key"], max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as caught:
        client.messages.create(model="claude-3-5-haiku", max_tokens=10, messages=WEATHER)
    assert "'claude-3-5-haiku'" in assert_error(caught.value, 403, "permission_error")
    with pytest.raises(anthropic.PermissionDeniedError) as counted:
        client.messages.count_tokens(model="claude-3-5-haiku", messages=WEATHER)
    assert_error(counted.value, 403, "permission_error")
    served = client.messages.create(model="gpt-4o-mini", max_tokens=10, messages=WEATHER)
    assert blocks(served) == [{"type": "text", "text": "Echo: what is the weather in Paris?"}]


DOCUMENT: Any = {
    "role": "user",
    "content": [
        {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "x"}},
        {"type": "text", "text": "summarize"},
    ],
}
WEB_SEARCH: Any = {"type": "web_search_20250305", "name": "web_search"}


@pytest.mark.parametrize("model", TRANSLATED)
def test_what_chat_cannot_carry_is_refused_by_name(
    client: anthropic.Anthropic, stack: Stack, model: str
) -> None:
    before = len(sim_requests(stack))
    with pytest.raises(anthropic.BadRequestError) as document:
        client.messages.create(model=model, max_tokens=10, messages=[DOCUMENT])
    assert "'document'" in assert_error(document.value, 400, "invalid_request_error")
    with pytest.raises(anthropic.BadRequestError) as server_tool:
        client.messages.create(model=model, max_tokens=10, messages=WEATHER, tools=[WEB_SEARCH])
    message = assert_error(server_tool.value, 400, "invalid_request_error")
    assert "'web_search_20250305'" in message
    with pytest.raises(anthropic.BadRequestError) as beta:
        client.messages.create(
            model=model,
            max_tokens=10,
            messages=WEATHER,
            extra_headers={"anthropic-beta": "files-api-2025-04-14"},
        )
    assert "'files-api-2025-04-14'" in assert_error(beta.value, 400, "invalid_request_error")
    assert len(sim_requests(stack)) == before


@pytest.mark.parametrize("model", MODELS)
def test_claude_code_beta_is_accepted(
    client: anthropic.Anthropic, stack: Stack, model: str
) -> None:
    message = client.beta.messages.create(
        model=model,
        max_tokens=10,
        messages=[{"role": "user", "content": "hi"}],
        betas=["claude-code-20250219", "interleaved-thinking-2025-05-14"],
    )
    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [("text", "Echo: hi")]
    upstream = sim_requests(stack)[-1]
    asked = ["claude-code-20250219", "interleaved-thinking-2025-05-14"]
    assert sent_betas(upstream) == (asked if model in CLAUDE else [])


@pytest.mark.parametrize("model", CLAUDE)
def test_claude_gets_documents_and_any_beta(
    client: anthropic.Anthropic, stack: Stack, model: str
) -> None:
    message = client.messages.create(
        model=model,
        max_tokens=10,
        messages=[DOCUMENT],
        extra_headers={"anthropic-beta": "files-api-2025-04-14"},
    )
    assert blocks(message) == [{"type": "text", "text": "Echo: summarize"}]
    upstream = sim_requests(stack)[-1]
    assert upstream["json"]["messages"] == [DOCUMENT]
    assert sent_betas(upstream) == ["files-api-2025-04-14"]


def test_thinking_for_a_model_without_reasoning_is_refused(
    client: anthropic.Anthropic, stack: Stack
) -> None:
    before = len(sim_requests(stack))
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="bedrock-nova-lite", max_tokens=2048, messages=WEATHER, thinking=THINKING
        )
    assert_error(caught.value, 400, "invalid_request_error")
    assert len(sim_requests(stack)) == before


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"thinking": THINKING}, "thinking"),
        ({"thinking": {"type": "adaptive"}}, "thinking"),
        (
            {
                "tools": [WEATHER_TOOL],
                "tool_choice": {"type": "auto", "disable_parallel_tool_use": True},
            },
            "tool_choice.disable_parallel_tool_use",
        ),
    ],
)
def test_a_translated_refusal_names_the_field_the_client_sent(
    client: anthropic.Anthropic, options: dict[str, Any], named: str
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        client.messages.create(
            model="bedrock-nova-lite", max_tokens=2048, messages=WEATHER, **options
        )
    message = assert_error(caught.value, 400, "invalid_request_error")
    assert named in message
    assert "reasoning_effort" not in message
    assert "parallel_tool_calls" not in message


# ---- upstream faults (the in-process gateway and its simulator) --------------------------------

FAULT_MODELS = ["claude-3-5-haiku", "bedrock-claude", "gpt-4o-mini"]


@pytest.mark.parametrize("model", MODELS)
def test_the_beta_namespace_works_as_claude_code_calls_it(
    client: anthropic.Anthropic, model: str
) -> None:
    """`client.beta.messages` posts to /v1/messages?beta=true with `anthropic-beta`, as
    Claude Code does."""
    betas = ["claude-code-20250219", "interleaved-thinking-2025-05-14"]
    with client.beta.messages.stream(
        model=model, max_tokens=2000, messages=WEATHER, tools=[WEATHER_TOOL], betas=betas
    ) as events:
        streamed = events.get_final_message()
    counted = client.beta.messages.count_tokens(model=model, messages=WEATHER, betas=betas)
    assert [block.type for block in streamed.content] == ["tool_use"]
    assert streamed.stop_reason == "tool_use"
    assert counted.input_tokens > 0


@pytest.fixture
def local(gateway_url: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=gateway_url, api_key=MASTER_KEY, max_retries=0)


def call(client: anthropic.Anthropic, model: str, *, stream: bool) -> Message:
    if not stream:
        return client.messages.create(model=model, max_tokens=10, messages=WEATHER)
    with client.messages.stream(model=model, max_tokens=10, messages=WEATHER) as events:
        return events.get_final_message()


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("model", FAULT_MODELS)
def test_upstream_429_is_rate_limit_error(
    local: anthropic.Anthropic, gateway_env: SimulatorApp, model: str, stream: bool
) -> None:
    gateway_env.set_fault("429")
    with pytest.raises(anthropic.RateLimitError) as caught:
        call(local, model, stream=stream)
    assert_error(caught.value, 429, "rate_limit_error")
    assert caught.value.response.headers["retry-after"] == "7"  # the simulator's, relayed


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
@pytest.mark.parametrize("fault", ["529", "503"])
@pytest.mark.parametrize("model", FAULT_MODELS)
def test_upstream_overload_is_overloaded_error(
    local: anthropic.Anthropic, gateway_env: SimulatorApp, model: str, fault: str, stream: bool
) -> None:
    gateway_env.set_fault(fault)
    with pytest.raises(anthropic.OverloadedError) as caught:
        call(local, model, stream=stream)
    assert isinstance(caught.value, anthropic.InternalServerError)  # what retry logic catches
    assert_error(caught.value, 529, "overloaded_error")


# What each simulated vendor's mid-stream error becomes: Anthropic's own overloaded
# event keeps its type; Bedrock's and OpenAI's are provider failures.
STREAM_ERRORS = {
    "claude-3-5-haiku": "overloaded_error",
    "bedrock-claude": "api_error",
    "gpt-4o-mini": "api_error",
}
# "Echo: left right" in two chunks: error_event sends the first, truncate both (and no end).
CUT_TEXT = {"error_event": ["Echo: le"], "truncate": ["Echo: le", "ft right"]}


@pytest.mark.parametrize("fault", ["error_event", "truncate"])
@pytest.mark.parametrize("model", FAULT_MODELS)
def test_stream_failing_after_its_first_event_raises(
    local: anthropic.Anthropic, gateway_env: SimulatorApp, model: str, fault: str
) -> None:
    gateway_env.set_fault(fault)
    received: list[Any] = []
    with (
        local.messages.stream(
            model=model,
            max_tokens=50,
            messages=[{"role": "user", "content": "[sim-chunks:2] left right"}],
        ) as stream,
        pytest.raises(anthropic.APIStatusError) as caught,
    ):
        received.extend(stream)
    error = caught.value
    assert error.status_code == 200  # the stream had started: the status was sent already
    assert error.request_id == stream.request_id
    assert isinstance(error.body, dict)
    assert set(error.body) == {"type", "error"}  # an `error` event: the envelope, no request id
    assert error.body["type"] == "error"
    # A truncated stream is the provider's failure, even with every text delta in.
    assert error.type == (STREAM_ERRORS[model] if fault == "error_event" else "api_error")
    assert error.api_message
    pieces = CUT_TEXT[fault]
    assert [event.type for event in received] == [
        "message_start",
        "content_block_start",
        *(["content_block_delta", "text"] * len(pieces)),
    ]
    snapshot = stream.current_message_snapshot
    assert snapshot.id.startswith("msg_")
    assert snapshot.model == model
    assert blocks(snapshot) == [{"type": "text", "text": "".join(pieces)}]
    assert snapshot.stop_reason is None

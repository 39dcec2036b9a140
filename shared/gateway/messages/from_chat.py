"""A chat answer -> an Anthropic Message, or a chat chunk stream -> Anthropic stream events.

References: https://docs.anthropic.com/en/api/messages and
https://docs.anthropic.com/en/docs/build-with-claude/streaming (anthropic-version 2023-06-01).

Decisions a reader could not guess:
- Reasoning becomes a thinking block with signature "": the provider's reasoning has no
  Anthropic signature and none is invented (no signature_delta is sent either).
- Usage: Anthropic's `input_tokens` leaves out cache reads and writes; TokenUsage counts
  them. A chat stream reports usage last, so message_start says 0 and message_delta
  carries every count (cumulative, which is how the anthropic SDK takes them).
- `stop_sequence` is always null and a matched stop sequence reads `end_turn`: chat does
  not say which sequence matched.
- A refusal (OpenAI's `refusal`) is text, the way Claude words its own refusals.
- Tool arguments that are not a JSON object are the provider's failure (502), never {}.
- Streamed blocks are sequential: a tool call's argument fragments go out exactly as they
  came, in their own block. A fragment for a call whose block has closed (calls streamed
  interleaved) has no place left: a 502 rather than a silently wrong input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.errors import UpstreamError
from gateway.providers.responses import usage_in
from gateway.providers.spec import TokenUsage
from gateway.schemas.nesting import object_from

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.schemas.openai import (
        ChatCompletion,
        ChatCompletionChunk,
        ToolCallDelta,
    )

Event = dict[str, Any]
Block = dict[str, Any]

STOP_REASONS: Mapping[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
    "function_call": "tool_use",
}


def stop_reason(finish_reason: str | None) -> str:
    return STOP_REASONS.get(finish_reason or "stop", "end_turn")


def usage_of(usage: TokenUsage) -> dict[str, Any]:
    """TokenUsage as Anthropic's usage object."""
    fresh = usage.input_tokens - usage.cache_read_tokens - usage.cache_write_tokens
    out: dict[str, Any] = {
        "input_tokens": max(fresh, 0),
        "cache_creation_input_tokens": usage.cache_write_tokens,
        "cache_read_input_tokens": usage.cache_read_tokens,
        "output_tokens": usage.output_tokens,
    }
    if usage.reasoning_tokens:
        out["output_tokens_details"] = {"thinking_tokens": usage.reasoning_tokens}
    return out


def tool_input(arguments: str) -> dict[str, Any]:
    try:
        return object_from(arguments)  # blank: a call without arguments
    except ValueError:  # also nesting that no serializer downstream could write
        raise UpstreamError("The provider sent tool arguments that are not JSON.") from None


# ---- whole answers ---------------------------------------------------------------------


def message_from_completion(
    completion: ChatCompletion,
    *,
    message_id: str,
    model: str,
    usage: TokenUsage | None = None,
) -> dict[str, Any]:
    """The Message for a chat completion; `usage` (the pipeline's own) wins over the body's."""
    if not completion.get("choices"):
        raise UpstreamError("The provider sent a response without a choice.")
    choice = completion["choices"][0]
    message = choice["message"]
    content: list[Block] = []
    if message.get("reasoning_content"):
        content.append(_thinking(message.get("reasoning_content") or ""))
    text = message.get("content") or message.get("refusal")
    if text:
        content.append({"type": "text", "text": text})
    for call in message.get("tool_calls") or ():
        function = call["function"]
        content.append(_tool_use(call["id"], function["name"], tool_input(function["arguments"])))
    return {
        **_envelope(message_id, model, content),
        "stop_reason": stop_reason(choice.get("finish_reason")),
        "usage": usage_of(
            usage if usage is not None else (usage_in(completion.get("usage")) or TokenUsage())
        ),
    }


def _envelope(message_id: str, model: str, content: list[Block]) -> dict[str, Any]:
    return {
        "id": message_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": None,
        "stop_sequence": None,
    }


def _thinking(text: str) -> Block:
    return {"type": "thinking", "thinking": text, "signature": ""}


def _tool_use(call_id: str, name: str, arguments: dict[str, Any]) -> Block:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


# ---- streams ---------------------------------------------------------------------------


@dataclass(slots=True)
class ChatEvents:
    """Memory across one stream's chunks: the open block and what the end must say."""

    message_id: str
    model: str
    started: bool = False
    ended: bool = False
    blocks: int = 0  # blocks started so far; the open one is blocks - 1
    kind: str | None = None  # the open block's type
    tool: int | None = None  # the open tool_use block's chat tool-call index
    tools: dict[int, int] = field(default_factory=dict)  # chat tool-call index -> block
    finish_reason: str | None = None
    usage: TokenUsage | None = None

    def feed(self, chunk: ChatCompletionChunk) -> list[Event]:
        return events_for(self, chunk)

    def end(self, usage: TokenUsage | None = None) -> list[Event]:
        return end(self, usage)


def start(message_id: str, model: str) -> ChatEvents:
    return ChatEvents(message_id=message_id, model=model)


def events_for(state: ChatEvents, chunk: ChatCompletionChunk) -> list[Event]:
    """The events one chunk adds; the stop reason waits for `end`."""
    if chunk.get("usage"):
        state.usage = usage_in(chunk.get("usage")) or TokenUsage()
    events = _started(state)
    for choice in chunk.get("choices") or ():
        if choice.get("index", 0) != 0:
            continue  # n=1 only: the Messages API has one answer
        delta = choice.get("delta") or {}
        if delta.get("reasoning_content"):
            events += _text(state, "thinking", delta.get("reasoning_content") or "")
        for key in ("content", "refusal"):
            if delta.get(key):
                events += _text(state, "text", str(delta.get(key)))
        for call in delta.get("tool_calls") or ():
            events += _tool_call(state, call)
        if choice.get("finish_reason"):
            state.finish_reason = choice["finish_reason"]
    return events


def end(state: ChatEvents, usage: TokenUsage | None = None) -> list[Event]:
    """Close the open block; message_delta (stop reason, every usage count), message_stop."""
    if state.ended:
        return []
    state.ended = True
    events = _started(state) + _close(state)
    counts = usage or state.usage or TokenUsage()
    delta = {"stop_reason": stop_reason(state.finish_reason), "stop_sequence": None}
    events.append({"type": "message_delta", "delta": delta, "usage": usage_of(counts)})
    events.append({"type": "message_stop"})
    return events


def _started(state: ChatEvents) -> list[Event]:
    if state.started:
        return []
    state.started = True
    message = _envelope(state.message_id, state.model, [])
    # A provider that reports usage on its first chunk: say it now, as Anthropic does.
    message["usage"] = (
        usage_of(state.usage) if state.usage else {"input_tokens": 0, "output_tokens": 0}
    )
    return [{"type": "message_start", "message": message}]


def _close(state: ChatEvents) -> list[Event]:
    if state.kind is None:
        return []
    state.kind, state.tool = None, None
    return [{"type": "content_block_stop", "index": state.blocks - 1}]


def _open(state: ChatEvents, block: Block) -> list[Event]:
    events = _close(state)
    events.append({"type": "content_block_start", "index": state.blocks, "content_block": block})
    state.blocks += 1
    state.kind = block["type"]
    return events


def _delta(state: ChatEvents, delta: dict[str, str]) -> Event:
    return {"type": "content_block_delta", "index": state.blocks - 1, "delta": delta}


def _text(state: ChatEvents, kind: str, text: str) -> list[Event]:
    events: list[Event] = []
    if state.kind != kind:
        block = _thinking("") if kind == "thinking" else {"type": "text", "text": ""}
        events += _open(state, block)
    if kind == "thinking":
        events.append(_delta(state, {"type": "thinking_delta", "thinking": text}))
    else:
        events.append(_delta(state, {"type": "text_delta", "text": text}))
    return events


def _tool_call(state: ChatEvents, call: ToolCallDelta) -> list[Event]:
    position = call.get("index", 0)
    function = call.get("function") or {}
    fragment = function.get("arguments") or ""
    events: list[Event] = []
    if position not in state.tools:
        # OpenAI names the call in its first delta; an id a provider left out is made up
        # once, so that the client can still answer the call.
        call_id = call.get("id") or f"toolu_{state.message_id}_{position}"
        events += _open(state, _tool_use(call_id, function.get("name") or "", {}))
        state.tools[position] = state.blocks - 1
        state.tool = position
    elif state.tool != position:
        if fragment:
            raise UpstreamError("The provider interleaved the arguments of its tool calls.")
        return []
    if fragment:
        events.append(_delta(state, {"type": "input_json_delta", "partial_json": fragment}))
    return events

"""Anthropic stream events -> ChatCompletionChunks.

Events: message_start, content_block_start/delta/stop, message_delta,
message_stop, ping, error (https://docs.anthropic.com/en/docs/build-with-claude/streaming).
Unknown event and delta types are skipped, as the reference asks. The final
chunk (empty delta, finish_reason) goes out on message_stop; a stream that
ends before it is an error, never a success.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from gateway.errors import UpstreamError
from gateway.providers import failures, responses
from gateway.providers.anthropic.errors import error_from
from gateway.providers.anthropic.response import finish_reason
from gateway.providers.claude import token_usage
from gateway.providers.spec import StreamState

if TYPE_CHECKING:
    from collections.abc import Callable

    from gateway.providers.spec import ResponseMeta, UpstreamEvent
    from gateway.schemas.openai import ChatCompletionChunk, Delta, ToolCallDelta


@dataclass(slots=True)
class AnthropicStreamState(StreamState):
    # Anthropic content-block index -> OpenAI tool_calls index.
    tool_index: dict[int, int] = field(default_factory=dict)
    # Tool blocks that have not streamed any argument text yet.
    tools_without_arguments: set[int] = field(default_factory=set)
    # Usage fields as last reported: message_start, then cumulative message_delta.
    raw_usage: dict[str, Any] = field(default_factory=dict)


def new_stream_state(meta: ResponseMeta) -> AnthropicStreamState:
    return AnthropicStreamState(meta=meta)


def parse_stream_event(
    state: AnthropicStreamState, event: UpstreamEvent
) -> list[ChatCompletionChunk]:
    data = failures.json_object(event.data)
    handler = _HANDLERS.get(str(data.get("type", event.name)))
    return handler(state, data) if handler is not None else []


def finish_stream(state: AnthropicStreamState) -> list[ChatCompletionChunk]:
    if not state.done:
        raise UpstreamError("The provider's stream ended before it finished.")
    return []


def _chunk(state: AnthropicStreamState, delta: Delta) -> list[ChatCompletionChunk]:
    return [responses.chunk(state.meta, delta)]


def _update_usage(state: AnthropicStreamState, raw: object) -> None:
    if isinstance(raw, dict):
        state.raw_usage.update({k: v for k, v in raw.items() if v is not None})
        state.usage = token_usage(state.raw_usage)


def _message_start(state: AnthropicStreamState, data: dict[str, Any]) -> list[ChatCompletionChunk]:
    message = data.get("message")
    if isinstance(message, dict):
        _update_usage(state, message.get("usage"))
    return _chunk(state, {"role": "assistant", "content": ""})


def _block_start(state: AnthropicStreamState, data: dict[str, Any]) -> list[ChatCompletionChunk]:
    block = data.get("content_block")
    index = data.get("index")
    if not isinstance(block, dict) or not isinstance(index, int):
        return []
    kind = block.get("type")
    if kind == "tool_use":
        position = len(state.tool_index)
        state.tool_index[index] = position
        state.tools_without_arguments.add(index)
        call: ToolCallDelta = {
            "index": position,
            "id": str(block.get("id", "")),
            "type": "function",
            "function": {"name": str(block.get("name", "")), "arguments": ""},
        }
        return _chunk(state, {"tool_calls": [call]})
    if kind == "text" and block.get("text"):
        return _chunk(state, {"content": str(block["text"])})
    if kind == "thinking" and block.get("thinking"):
        return _chunk(state, {"reasoning_content": str(block["thinking"])})
    return []  # redacted_thinking and anything newer


def _block_delta(state: AnthropicStreamState, data: dict[str, Any]) -> list[ChatCompletionChunk]:
    delta = data.get("delta")
    if not isinstance(delta, dict):
        return []
    kind = delta.get("type")
    if kind == "text_delta" and delta.get("text"):
        return _chunk(state, {"content": str(delta["text"])})
    if kind == "thinking_delta" and delta.get("thinking"):
        return _chunk(state, {"reasoning_content": str(delta["thinking"])})
    if kind == "input_json_delta":
        return _arguments(state, data.get("index"), delta.get("partial_json"))
    return []  # signature_delta, citations_delta: nothing to say in OpenAI's shape


def _arguments(
    state: AnthropicStreamState, index: object, fragment: object
) -> list[ChatCompletionChunk]:
    if not isinstance(index, int) or index not in state.tool_index:
        return []  # e.g. a server tool's input, which we never asked for
    if not isinstance(fragment, str) or not fragment:
        return []
    state.tools_without_arguments.discard(index)
    position = state.tool_index[index]
    return _chunk(state, {"tool_calls": [{"index": position, "function": {"arguments": fragment}}]})


def _block_stop(state: AnthropicStreamState, data: dict[str, Any]) -> list[ChatCompletionChunk]:
    index = data.get("index")
    if index not in state.tools_without_arguments:
        return []
    # A call without arguments: say "{}", as the non-streamed response does.
    state.tools_without_arguments.discard(index)
    position = state.tool_index[index]
    return _chunk(state, {"tool_calls": [{"index": position, "function": {"arguments": "{}"}}]})


def _message_delta(state: AnthropicStreamState, data: dict[str, Any]) -> list[ChatCompletionChunk]:
    delta = data.get("delta")
    if isinstance(delta, dict) and delta.get("stop_reason") is not None:
        state.finish_reason = finish_reason(delta["stop_reason"])
    _update_usage(state, data.get("usage"))
    return []


def _message_stop(state: AnthropicStreamState, _data: dict[str, Any]) -> list[ChatCompletionChunk]:
    if state.finish_reason is None:
        raise UpstreamError("The provider's stream ended without a stop reason.")
    state.done = True
    return [responses.chunk(state.meta, {}, state.finish_reason)]


def _error(_state: AnthropicStreamState, data: dict[str, Any]) -> list[ChatCompletionChunk]:
    raise error_from(data, 200, {})  # it arrives after a 200: the documented type decides


if TYPE_CHECKING:
    _Handler: TypeAlias = Callable[
        [AnthropicStreamState, dict[str, Any]], list[ChatCompletionChunk]
    ]

_HANDLERS: dict[str, _Handler] = {
    "message_start": _message_start,
    "content_block_start": _block_start,
    "content_block_delta": _block_delta,
    "content_block_stop": _block_stop,
    "message_delta": _message_delta,
    "message_stop": _message_stop,
    "error": _error,
}  # "ping" and unknown types: no chunks

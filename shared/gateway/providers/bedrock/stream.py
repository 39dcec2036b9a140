"""ConverseStream events -> OpenAI chunks.

Each event's payload is its member's fields plus Bedrock's padding "p", which is
ignored. Exception events raise the mapped gateway error; a stream that ends
before messageStop and metadata raises in finish_stream.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import failures, responses
from gateway.providers.bedrock.errors import stream_error
from gateway.providers.bedrock.response import as_dict, finish_reason, token_usage
from gateway.providers.spec import StreamState

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from gateway.providers.spec import ResponseMeta, UpstreamEvent
    from gateway.schemas.openai import ChatCompletionChunk, ToolCallDelta


@dataclass(slots=True)
class BedrockStreamState(StreamState):
    # contentBlockIndex of each toolUse block -> its index in OpenAI's tool_calls
    tool_index: dict[int, int] = field(default_factory=dict)


def new_stream_state(meta: ResponseMeta) -> BedrockStreamState:
    return BedrockStreamState(meta=meta)


def parse_stream_event(
    state: BedrockStreamState, event: UpstreamEvent
) -> list[ChatCompletionChunk]:
    if event.is_exception:
        raise stream_error(event.name, event.data)
    handler = _HANDLERS.get(event.name)
    if handler is None:
        return []  # an event type added after this dialect was written
    return handler(state, failures.json_object(event.data))


def finish_stream(state: BedrockStreamState) -> list[ChatCompletionChunk]:
    if state.finish_reason is None or not state.done:
        raise errors.UpstreamError("The provider's stream ended before it finished.")
    return []


def _message_start(state: BedrockStreamState, _data: dict[str, Any]) -> list[ChatCompletionChunk]:
    return [responses.chunk(state.meta, {"role": "assistant"})]


def _block_start(state: BedrockStreamState, data: dict[str, Any]) -> list[ChatCompletionChunk]:
    use = as_dict(data.get("start")).get("toolUse")
    if not isinstance(use, dict):
        return []
    index = len(state.tool_index)
    state.tool_index[int(data.get("contentBlockIndex") or 0)] = index
    call: ToolCallDelta = {
        "index": index,
        "id": str(use.get("toolUseId", "")),
        "type": "function",
        "function": {"name": str(use.get("name", "")), "arguments": ""},
    }
    return [responses.chunk(state.meta, {"tool_calls": [call]})]


def _block_delta(state: BedrockStreamState, data: dict[str, Any]) -> list[ChatCompletionChunk]:
    delta = as_dict(data.get("delta"))
    if isinstance(delta.get("text"), str):
        return [responses.chunk(state.meta, {"content": delta["text"]})]
    if "toolUse" in delta:
        index = state.tool_index.get(int(data.get("contentBlockIndex") or 0))
        if index is None:
            raise errors.UpstreamError("The provider sent tool input for an unknown block.")
        arguments = str(as_dict(delta["toolUse"]).get("input", ""))
        call: ToolCallDelta = {"index": index, "function": {"arguments": arguments}}
        return [responses.chunk(state.meta, {"tool_calls": [call]})]
    text = as_dict(delta.get("reasoningContent")).get("text")
    if isinstance(text, str):
        return [responses.chunk(state.meta, {"reasoning_content": text})]
    return []  # signatures, redacted reasoning, citations: nothing OpenAI can carry


def _message_stop(state: BedrockStreamState, data: dict[str, Any]) -> list[ChatCompletionChunk]:
    state.finish_reason = finish_reason(data.get("stopReason"))
    return [responses.chunk(state.meta, {}, state.finish_reason)]


def _metadata(state: BedrockStreamState, data: dict[str, Any]) -> list[ChatCompletionChunk]:
    state.usage = token_usage(data.get("usage"))
    state.done = True
    return []


def _ignore(_state: BedrockStreamState, _data: dict[str, Any]) -> list[ChatCompletionChunk]:
    return []


_HANDLERS: Mapping[str, Callable[[BedrockStreamState, dict[str, Any]], list[ChatCompletionChunk]]]
_HANDLERS = MappingProxyType(
    {
        "messageStart": _message_start,
        "contentBlockStart": _block_start,
        "contentBlockDelta": _block_delta,
        "contentBlockStop": _ignore,
        "messageStop": _message_stop,
        "metadata": _metadata,
    }
)

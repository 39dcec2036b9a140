"""streamGenerateContent?alt=sse events -> ChatCompletionChunks.

Each SSE `data:` is a whole GenerateContentResponse holding the next piece of
candidates[0] (https://ai.google.dev/api/generate-content#method:-models.streamgeneratecontent).
Text and thought parts become content and reasoning_content deltas, a functionCall
(sent whole, never in pieces) a complete tool call delta; the first chunk carries the
role. usageMetadata is cumulative, so the last one is the stream's usage. The chunk
with finishReason ends the stream (a refused prompt's promptFeedback.blockReason
does too); Gemini sends no terminal event after it, so a stream that closes before
a finishReason was cut, and finish_stream raises. An `{"error": ...}` event raises
the mapped error. The maps are response.py's, so a folded stream equals the answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway import errors
from gateway.providers import failures, responses
from gateway.providers.gemini.errors import error_from
from gateway.providers.gemini.response import (
    blocked,
    finish_reason,
    first_candidate,
    read_parts,
    token_usage,
    tool_call,
)
from gateway.providers.spec import StreamState

if TYPE_CHECKING:
    from gateway.providers.spec import ResponseMeta, UpstreamEvent
    from gateway.schemas.openai import ChatCompletionChunk, Delta, ToolCallDelta


@dataclass(slots=True)
class GeminiStreamState(StreamState):
    started: bool = False  # the role went out
    calls: int = 0  # tool calls so far: the next one's index


def new_stream_state(meta: ResponseMeta) -> GeminiStreamState:
    return GeminiStreamState(meta=meta)


def parse_stream_event(state: GeminiStreamState, event: UpstreamEvent) -> list[ChatCompletionChunk]:
    data = failures.json_object(event.data)
    if "error" in data:
        raise error_from(data, 200, {})
    if "usageMetadata" in data:
        state.usage = token_usage(data["usageMetadata"])
    if state.done:
        return []  # nothing follows the finish but usage
    if blocked(data):
        state.finish_reason, state.done = "content_filter", True
        return _with_role(state, [], finish=True)
    candidate = first_candidate(data)
    if candidate is None:
        return []
    parts = read_parts(candidate)
    deltas: list[Delta] = []
    if parts.thoughts:
        deltas.append({"reasoning_content": parts.thoughts})
    if parts.text:
        deltas.append({"content": parts.text})
    if parts.calls:
        deltas.append({"tool_calls": [_call_delta(state, part) for part in parts.calls]})
    raw = candidate.get("finishReason")
    if raw:
        state.finish_reason = finish_reason(raw, tool_calls=state.calls > 0)
        state.done = True
    return _with_role(state, deltas, finish=state.done)


def finish_stream(state: GeminiStreamState) -> list[ChatCompletionChunk]:
    if not state.done:
        raise errors.UpstreamError("The provider's stream ended before it finished.")
    return []


def _call_delta(state: GeminiStreamState, part: dict[str, object]) -> ToolCallDelta:
    call = tool_call(part, state.meta, state.calls)
    state.calls += 1
    function = call["function"]
    return {
        "index": state.calls - 1,
        "id": call["id"],
        "type": "function",
        "function": {"name": function["name"], "arguments": function["arguments"]},
    }


def _with_role(
    state: GeminiStreamState, deltas: list[Delta], *, finish: bool
) -> list[ChatCompletionChunk]:
    if not state.started and (deltas or finish):
        state.started = True
        first: Delta = {"role": "assistant"}
        deltas = [first | deltas[0], *deltas[1:]] if deltas else [first]
    chunks = [responses.chunk(state.meta, delta) for delta in deltas]
    if finish:
        chunks.append(responses.chunk(state.meta, {}, state.finish_reason))
    return chunks

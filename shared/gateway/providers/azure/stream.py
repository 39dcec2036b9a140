"""Azure's chat stream: OpenAI's chunks (gateway/providers/openai.py's state, usage and
finish-reason maps) plus Azure's content-filter annotations.

Reference: learn.microsoft.com/azure/ai-foundry/openai/concepts/content-streaming.
- The first event carries the prompt's annotations and no choice:
  `{"id": "", "object": "", "created": 0, "model": "", "prompt_filter_results": [...],
  "choices": []}`; like the usage chunk, it yields nothing.
- Annotation events (the asynchronous filter) carry choices without a `delta`:
  `{"index": 0, "finish_reason": null, "content_filter_results": {...},
  "content_filter_offsets": {...}}`; they add nothing to the text and are dropped. One
  that ends the choice (`finish_reason: "content_filter"`) is kept with an empty delta,
  so the client sees why the answer stopped.
- A choice's `content_filter_results` beside a delta pass through (clients of Azure
  read them; the openai SDK keeps unknown fields).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import failures, openai
from gateway.providers.azure.errors import error_event

if TYPE_CHECKING:
    from gateway.providers.openai import OpenAIStreamState
    from gateway.providers.spec import UpstreamEvent
    from gateway.schemas.openai import ChatCompletionChunk, FinishReason

CHUNK = "chat.completion.chunk"

new_stream_state = openai.new_stream_state
finish_stream = openai.finish_stream


def _finish(reason: Any) -> FinishReason | None:
    if reason is None:
        return None
    return openai.FINISH_REASONS.get(str(reason), "stop")


def _choices(raw: Any) -> list[dict[str, Any]]:
    """The choices a client sees: those with a delta, or that end the choice."""
    out: list[dict[str, Any]] = []
    for choice in raw if isinstance(raw, list) else []:
        if not isinstance(choice, dict):
            raise errors.UpstreamError("The provider sent a malformed choice.")
        if "delta" not in choice and choice.get("finish_reason") is None:
            continue
        choice.setdefault("delta", {})
        out.append(choice)
    return out


def parse_stream_event(state: OpenAIStreamState, event: UpstreamEvent) -> list[ChatCompletionChunk]:
    if event.data == "[DONE]":
        state.done = True
        return []
    data = failures.json_object(event.data)
    if "error" in data:
        raise error_event(data)
    usage = openai.usage_of(data.pop("usage", None))
    if usage is not None:
        state.usage = usage
    choices = _choices(data.get("choices"))
    if not choices:
        return []  # prompt annotations, filter annotations, the usage chunk
    for choice in choices:
        reason = _finish(choice.get("finish_reason"))
        choice["finish_reason"] = reason
        if reason is not None:
            state.finish_reason = reason
    meta = state.meta
    data.update(choices=choices, id=meta.id, model=meta.model, created=meta.created, object=CHUNK)
    return [data]  # type: ignore[list-item]

"""The response cache for legacy completions: entries are text completions.

The key is the request's whole body (cache/keys.py `body_fingerprint`), apart from
every other API's entries. A plain answer is stored as its text completion (a chat
answer translated first); a stream's chunks are folded into the completion they
describe (an unfinished one is not cached). A hit is that completion under the new
request's id and model, or for a streamed request the chunks it unfolds into.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.cache.keys import body_fingerprint
from gateway.providers import responses, sse
from gateway.text_completions import shapes
from gateway.text_completions.surfaces import ID_PREFIX

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.cache.keys import CacheKey
    from gateway.providers.spec import ResponseMeta, TokenUsage
    from gateway.schemas.openai import ChatCompletionRequest

CHAT_OBJECTS = frozenset({"chat.completion", "chat.completion.chunk"})


class TextShape:
    id_prefix = ID_PREFIX

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.request_body = body

    def key(
        self,
        chat: ChatCompletionRequest,
        *,
        model_group: str,
        providers: frozenset[str],
        namespace: str,
    ) -> CacheKey:
        del chat, providers  # the body says more than its chat view
        return body_fingerprint(
            self.request_body, api="completions", model_group=model_group, namespace=namespace
        )

    def entry_from_body(self, response: dict[str, Any]) -> dict[str, Any]:
        if response.get("object") in CHAT_OBJECTS:
            response = shapes.completion_from_chat(response, response_id="")
        return {"completion": _checked(response)}

    def entry_from_stream(self, recorded: list[Any], usage: TokenUsage) -> dict[str, Any]:
        chunks = [
            shapes.chunk_from_chat(chunk, response_id="")
            if chunk.get("object") in CHAT_OBJECTS
            else chunk
            for chunk in recorded
        ]
        completion = shapes.fold([chunk for chunk in chunks if chunk is not None])
        completion["usage"] = dict(responses.usage_out(usage))
        return {"completion": completion}

    def body(self, entry: dict[str, Any], meta: ResponseMeta) -> bytes:
        return sse.dumps(_branded(entry, meta))

    def stream(self, entry: dict[str, Any], meta: ResponseMeta, *, with_usage: bool) -> list[bytes]:
        chunks = shapes.unfold(_branded(entry, meta), with_usage=with_usage)
        return [*(sse.encode(chunk) for chunk in chunks), sse.DONE]


def _checked(completion: dict[str, Any]) -> dict[str, Any]:
    """A finished text completion, or ValueError."""
    choices = completion.get("choices")
    if completion.get("object") != shapes.OBJECT or not isinstance(choices, list) or not choices:
        raise ValueError("not a text completion")
    if any(choice.get("finish_reason") is None for choice in choices):
        raise ValueError("not a finished text completion")
    return completion


def _branded(entry: dict[str, Any], meta: ResponseMeta) -> dict[str, Any]:
    completion = dict(_checked(entry["completion"]))
    completion.update(id=meta.id, model=meta.model, created=meta.created)
    return completion

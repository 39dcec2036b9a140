"""How legacy completions are written on the wire (the attempt's `Surface`).

A completion-mode deployment's answer and chunks are text completions already
(passthrough.py); a chat-mode deployment's are chat shapes, translated here
(shapes.py). Either way a stream ends as OpenAI's does: the usage chunk when the
client asked for it (`choices: []`), the gateway's cost comment, `data: [DONE]`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.completions import cost_comment
from gateway.providers import responses, sse
from gateway.text_completions.shapes import OBJECT, chunk_from_chat, completion_from_chat

if TYPE_CHECKING:
    from gateway.errors import GatewayError
    from gateway.providers.spec import ResponseMeta, TokenUsage
    from gateway.schemas.openai import ChatCompletionRequest

ID_PREFIX = "cmpl-"


class TextSurface:
    """Items are text completions and their chunks (the passthrough)."""

    id_prefix = ID_PREFIX

    def encode(self, item: Any) -> bytes:
        return sse.encode(item)

    def body(self, response: Any) -> bytes:
        return sse.dumps(response)

    def error(self, error: GatewayError) -> bytes:
        return sse.encode(error.body())

    def tail(
        self,
        request: ChatCompletionRequest,
        meta: ResponseMeta,
        usage: TokenUsage | None,
        cost: int | None,
    ) -> bytes:
        out = b""
        if request.wants_usage_chunk and usage is not None:
            chunk = {
                "id": meta.id,
                "object": OBJECT,
                "created": meta.created,
                "model": meta.model,
                "choices": [],
                "usage": responses.usage_out(usage),
            }
            out += sse.encode(chunk)
        return out + cost_comment(cost) + sse.DONE


class TranslatedTextSurface(TextSurface):
    """Items are chat completions and chunks, written as text completions."""

    def encode(self, item: Any) -> bytes:
        chunk = chunk_from_chat(item, response_id=item["id"])
        return b"" if chunk is None else sse.encode(chunk)

    def body(self, response: Any) -> bytes:
        return sse.dumps(completion_from_chat(response, response_id=response["id"]))


TEXT = TextSurface()
TRANSLATED = TranslatedTextSurface()

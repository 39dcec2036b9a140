"""What the cache stores and replays for one API shape (chat completions; the Messages
API brings its own, gateway/messages/cache_shape.py): the request's key, the entry made
from an answer or a recorded stream, and the answer or stream replayed from an entry."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from gateway.cache import replay
from gateway.providers import responses, sse

if TYPE_CHECKING:
    from gateway.cache.keys import CacheKey
    from gateway.providers.spec import ResponseMeta, TokenUsage
    from gateway.schemas.openai import ChatCompletionRequest


class CacheShape(Protocol):
    id_prefix: str

    def key(
        self,
        chat: ChatCompletionRequest,
        *,
        model_group: str,
        providers: frozenset[str],
        namespace: str,
    ) -> CacheKey: ...

    def entry_from_body(self, response: dict[str, Any]) -> dict[str, Any]: ...

    def entry_from_stream(self, recorded: list[Any], usage: TokenUsage) -> dict[str, Any]: ...

    def body(self, entry: dict[str, Any], meta: ResponseMeta) -> bytes: ...

    def stream(
        self, entry: dict[str, Any], meta: ResponseMeta, *, with_usage: bool
    ) -> list[bytes]: ...


class ChatShape:
    id_prefix = "chatcmpl-"

    def key(
        self,
        chat: ChatCompletionRequest,
        *,
        model_group: str,
        providers: frozenset[str],
        namespace: str,
    ) -> CacheKey:
        from gateway.cache.keys import fingerprint

        return fingerprint(chat, model_group=model_group, providers=providers, namespace=namespace)

    def entry_from_body(self, response: dict[str, Any]) -> dict[str, Any]:
        return replay.entry_from_completion(response)

    def entry_from_stream(self, recorded: list[Any], usage: TokenUsage) -> dict[str, Any]:
        return replay.entry_from_chunks(recorded, dict(responses.usage_out(usage)))

    def body(self, entry: dict[str, Any], meta: ResponseMeta) -> bytes:
        return sse.dumps(replay.as_completion(entry, meta))

    def stream(self, entry: dict[str, Any], meta: ResponseMeta, *, with_usage: bool) -> list[bytes]:
        chunks = replay.as_chunks(entry, meta, with_usage=with_usage)
        return [*(sse.encode(chunk) for chunk in chunks), sse.DONE]


CHAT = ChatShape()

"""What the cache stores for an API answered in one JSON body and never streamed
(embeddings, rerank): the answer itself, keyed by the request's whole body
(cache/keys.py `body_fingerprint`, its `api` keeping each API's entries apart). A
hit is the answer under the new request's model name and id, where it has them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.cache.keys import body_fingerprint
from gateway.providers import sse

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.cache.keys import CacheKey
    from gateway.providers.spec import ResponseMeta, TokenUsage
    from gateway.schemas.openai import ChatCompletionRequest


class BodyShape:
    def __init__(self, api: str, body: Mapping[str, Any], id_prefix: str = "") -> None:
        self.api = api
        self.request_body = body
        self.id_prefix = id_prefix

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
            self.request_body, api=self.api, model_group=model_group, namespace=namespace
        )

    def entry_from_body(self, response: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(response, dict):
            raise ValueError("not an answer")
        return {"body": response}

    def entry_from_stream(self, recorded: list[Any], usage: TokenUsage) -> dict[str, Any]:
        del recorded, usage
        raise ValueError(f"{self.api} answers are never streamed")

    def body(self, entry: dict[str, Any], meta: ResponseMeta) -> bytes:
        answer = dict(entry["body"])
        if "model" in answer:
            answer["model"] = meta.model
        if "id" in answer:
            answer["id"] = meta.id
        return sse.dumps(answer)

    def stream(self, entry: dict[str, Any], meta: ResponseMeta, *, with_usage: bool) -> list[bytes]:
        del entry, meta, with_usage
        raise ValueError(f"{self.api} answers are never streamed")

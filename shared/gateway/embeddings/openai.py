"""Embeddings wire: OpenAI's `POST /embeddings`, for OpenAI and every compatible vendor.

Reference: https://platform.openai.com/docs/api-reference/embeddings (CreateEmbeddingRequest
and CreateEmbeddingResponse in OpenAI's OpenAPI document). The body goes as the client sent
it, with the deployment's model. Some compatible servers ignore `encoding_format`, so
each embedding is re-encoded when it comes back in the other form. A vendor that omits
`usage` is charged an estimate of the input (one token per four bytes, token arrays
by their length), never nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from gateway.embeddings import vectors
from gateway.embeddings.request import Embedded, estimate_tokens
from gateway.errors import UpstreamError
from gateway.providers.catalog import endpoint_url

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.embeddings.request import EmbeddingsRequest
    from gateway.providers.spec import Target, UpstreamRequest
    from gateway.providers.transport import RawResponse


def url(api_base: str) -> str:
    """LiteLLM accepts api_base with or without the endpoint path."""
    return endpoint_url(api_base, "/embeddings")


def calls(request: EmbeddingsRequest, target: Target) -> list[UpstreamRequest]:
    from gateway.providers.spec import UpstreamRequest

    inputs = [list(value) if isinstance(value, tuple) else value for value in request.inputs]
    body: dict[str, Any] = {
        **request.extra,
        "model": target.model,
        "input": inputs[0] if request.single else inputs,
        "encoding_format": request.encoding_format,
    }
    if request.dimensions is not None:
        body["dimensions"] = request.dimensions
    if request.user is not None:
        body["user"] = request.user
    headers = {"content-type": "application/json"}
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    return [UpstreamRequest(url=url(target.api_base), body=body, headers=headers)]


def parse(request: EmbeddingsRequest, answers: Sequence[RawResponse]) -> Embedded:
    try:
        data = orjson.loads(answers[0].body)
        items = sorted(data["data"], key=lambda item: item["index"])
        embeddings = [_encoded(item["embedding"], request) for item in items]
    except (ValueError, KeyError, TypeError) as exc:  # incl. JSON and base64 errors
        raise UpstreamError("The provider's embeddings answer was malformed.") from exc
    if len(embeddings) != len(request.inputs):
        raise UpstreamError("The provider answered a different number of embeddings.")
    usage = data.get("usage") if isinstance(data, dict) else None
    tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
    if not isinstance(tokens, int) or isinstance(tokens, bool) or tokens < 0:
        tokens = estimate_tokens(request.inputs)
    return Embedded(embeddings, tokens)


def _encoded(value: Any, request: EmbeddingsRequest) -> list[float] | str:
    if isinstance(value, str):
        return value if request.encoding_format == "base64" else vectors.decode(value)
    if not isinstance(value, list):
        raise TypeError("not an embedding")
    return vectors.encode(value, request.encoding_format)

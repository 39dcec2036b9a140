"""A rerank request, validated, and the contract of a provider's rerank wire.

The shape is Cohere's (as LiteLLM serves it): `query`, `documents` (strings, or
objects such as {"text": ...}), `top_n`, `return_documents`; v2's
`max_tokens_per_doc` and v1's `rank_fields`/`max_chunks_per_doc` are passed on
where the wire knows them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway import errors
from gateway.errors import InvalidRequestError
from gateway.providers.params import Support

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.providers.spec import Target, UpstreamRequest
    from gateway.providers.transport import RawResponse

MAX_DOCUMENTS = 10_000  # Cohere's documented cap; providers refuse fewer with their own 400
Document = str | dict[str, Any]
KNOWN = frozenset({"model", "query", "documents", "top_n", "return_documents", "user", "metadata"})


@dataclass(frozen=True, slots=True)
class RerankRequest:
    model: str
    query: str
    documents: tuple[Document, ...]
    top_n: int | None = None
    return_documents: bool = True
    extra: Mapping[str, Any] = field(default_factory=dict)  # other fields, less metadata

    def text(self, index: int) -> str:
        """A document as text: a string as is, an object's `text`, else its JSON."""
        document = self.documents[index]
        if isinstance(document, str):
            return document
        value = document.get("text")
        if isinstance(value, str) and len(document) == 1:
            return value
        return json.dumps(document, ensure_ascii=False, sort_keys=True)

    @property
    def texts(self) -> list[str]:
        return [self.text(index) for index in range(len(self.documents))]


@dataclass(frozen=True, slots=True)
class Reranked:
    """A provider's answer: (document index, relevance score) pairs in any order, and
    what it billed (Cohere's search units; tokens where the vendor counts them)."""

    scores: list[tuple[int, float]]
    search_units: int = 0
    input_tokens: int = 0


class RerankWire(Protocol):
    """How one provider's rerank API is called: pure, one call per request."""

    def call(self, request: RerankRequest, target: Target) -> UpstreamRequest: ...

    def parse(self, request: RerankRequest, answer: RawResponse) -> Reranked: ...


def validate_rerank(data: dict[str, Any]) -> RerankRequest:
    model = data.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequestError("'model' must be a non-empty string.", param="model")
    query = data.get("query")
    if not isinstance(query, str) or not query:
        raise InvalidRequestError("'query' must be a non-empty string.", param="query")
    documents = data.get("documents")
    if not isinstance(documents, list) or not documents:
        raise InvalidRequestError("'documents' must be a non-empty array.", param="documents")
    if len(documents) > MAX_DOCUMENTS:
        raise InvalidRequestError(
            f"'documents' must have at most {MAX_DOCUMENTS} items.", param="documents"
        )
    for index, document in enumerate(documents):
        if not isinstance(document, (str, dict)) or not document:
            raise InvalidRequestError(
                f"'documents[{index}]' must be a non-empty string or object.", param="documents"
            )
    top_n = data.get("top_n")
    if top_n is not None and (not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1):
        raise InvalidRequestError("'top_n' must be a positive integer.", param="top_n")
    return_documents = data.get("return_documents", True)
    if not isinstance(return_documents, bool):
        raise InvalidRequestError("'return_documents' must be a boolean.", param="return_documents")
    return RerankRequest(
        model=model,
        query=query,
        documents=tuple(documents),
        top_n=top_n,
        return_documents=return_documents,
        extra={key: value for key, value in data.items() if key not in KNOWN},
    )


def results(
    data: dict[str, Any], documents: int, score: str = "relevance_score"
) -> list[tuple[int, float]]:
    """`results: [{"index", <score>}]`, checked: an index names a document sent. Cohere's
    shape (copied by vLLM, Jina and Infinity); Bedrock's names its score `relevanceScore`."""
    items = data.get("results")
    if not isinstance(items, list):
        raise errors.UpstreamError("The provider sent a rerank response without results.")
    scores: list[tuple[int, float]] = []
    for item in items:
        index = item.get("index") if isinstance(item, dict) else None
        value = item.get(score) if isinstance(item, dict) else None
        if (
            not isinstance(index, int)
            or isinstance(index, bool)
            or not 0 <= index < documents
            or not isinstance(value, (int, float))
            or isinstance(value, bool)
        ):
            raise errors.UpstreamError("The provider sent a malformed rerank result.")
        scores.append((index, float(value)))
    return scores


def options(
    request: RerankRequest, table: Mapping[str, Support]
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The request's other fields by a wire's table: sent, dropped (and named), or
    refused with a 400 naming the first one the table does not know."""
    sent: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in sorted(request.extra.items()):
        if value is None:
            continue
        support = table.get(name, Support.REJECTED)
        if support is Support.REJECTED:
            raise errors.UnsupportedParameterError(
                f"'{name}' is not supported by this model's provider.", param=name
            )
        if support is Support.DROPPED:
            dropped.append(name)
        else:
            sent[name] = value
    return sent, tuple(dropped)

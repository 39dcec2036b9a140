"""A rerank answer in Cohere's shape, as LiteLLM's proxy returns it, and its cost.

https://docs.cohere.com/reference/rerank: `results` sorted by `relevance_score`,
highest first, at most `top_n`, each with the document's `index` in the request and,
when `return_documents`, the document ({"text": ...} for a string, an object as
sent); `meta.billed_units` holds the search units (and tokens, where the vendor
counts them).

Cost: tokens at the deployment's token prices, plus search units at model_info's
`input_cost_per_query` (LiteLLM's key; the price data has no rerank rows).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from gateway.spend.cost import cost_micros, query_micros
from gateway.spend.estimate import input_bound_micros

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.config import Deployment
    from gateway.providers.spec import TokenUsage
    from gateway.rerank.request import Reranked, RerankRequest

DOCUMENTS_PER_UNIT = 100  # a search unit is a query over up to 100 documents (chunks)
CHUNK_TOKENS = 500  # a longer document (with the query) is split into chunks of this size


def answer(response_id: str, request: RerankRequest, reranked: Reranked) -> dict[str, Any]:
    ordered = sorted(reranked.scores, key=lambda pair: (-pair[1], pair[0]))
    if request.top_n is not None:
        ordered = ordered[: request.top_n]
    results: list[dict[str, Any]] = []
    for index, score in ordered:
        result: dict[str, Any] = {"index": index, "relevance_score": score}
        if request.return_documents:
            document = request.documents[index]
            result["document"] = {"text": document} if isinstance(document, str) else document
        results.append(result)
    billed: dict[str, int] = {"search_units": reranked.search_units}
    if reranked.input_tokens:
        billed["input_tokens"] = reranked.input_tokens
    return {"id": response_id, "results": results, "meta": {"billed_units": billed}}


def cost(usage: TokenUsage, search_units: int, deployment: Deployment) -> int | None:
    """Tokens and search units at their prices; None when neither is priced."""
    parts = [
        part
        for part in (
            cost_micros(usage, deployment) if usage.input_tokens else None,
            query_micros(search_units, deployment),
        )
        if part is not None
    ]
    return sum(parts) if parts else None


def worst_case(body_bytes: int, request: RerankRequest, deployments: Sequence[Deployment]) -> int:
    """A bound on the charge. Tokens: vendors that bill tokens score each (query,
    document) pair, so the query counts once per document on top of the body (a token
    is at least a byte). Search units: a document of d tokens is split into chunks of
    CHUNK_TOKENS less the query, so at most 1 + d / room of them; with no room left,
    at most one per token."""
    query_bytes = len(request.query.encode())
    tokens = body_bytes + query_bytes * len(request.documents)
    room = CHUNK_TOKENS - query_bytes
    doc_bytes = sum(len(text.encode()) for text in request.texts)
    chunks = len(request.documents) + (doc_bytes // room if room >= 1 else doc_bytes)
    units = math.ceil(chunks / DOCUMENTS_PER_UNIT)
    per_query = max((query_micros(units, d) or 0 for d in deployments), default=0)
    return input_bound_micros(tokens, deployments) + per_query

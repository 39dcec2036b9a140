"""Rerank wire: Cohere's native Rerank API, v2 (`POST {api_base}/v2/rerank`, Bearer auth).

Reference: https://docs.cohere.com/reference/rerank (Rerank API v2), with the v2 changes in
https://docs.cohere.com/changelog/rerank-v3.5 and the cohere-python SDK's generated
`v2/raw_client.py` (`rerank`) and `types/api_meta*.py`.

Request: `model` (required), `query`, `documents` (a list of strings: v2 removed object
documents, and Cohere advises formatting structured data as text, so an object document
is sent as `RerankRequest.text`), `top_n` (>= 1), `max_tokens_per_doc`, `priority`.
v2 has no `return_documents` (the gateway puts the documents back itself), no
`rank_fields` and no `max_chunks_per_doc` (replaced by `max_tokens_per_doc`): those two
are dropped and named (`dropped_params`); any other field is refused, the declared policy
of a translated wire (gateway/providers/params.py).

Response: `{"id", "results": [{"index", "relevance_score"}], "meta": {"api_version",
"billed_units": {"search_units", "input_tokens"?, ...}, "tokens"?: {"input_tokens"}}}`.
Billed search units are charged; tokens are reported where Cohere counts them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from gateway.providers import failures
from gateway.providers.catalog import endpoint_url
from gateway.providers.params import Support
from gateway.providers.spec import UpstreamRequest
from gateway.rerank.request import Reranked, options, results

if TYPE_CHECKING:
    from gateway.providers.spec import Target
    from gateway.providers.transport import RawResponse
    from gateway.rerank.request import RerankRequest

PATH = "/v2/rerank"
# Body fields beyond model/query/documents/top_n, by what v2 does with them.
PARAMS: dict[str, Support] = {
    "max_tokens_per_doc": Support.MAPPED,
    "priority": Support.MAPPED,
    "max_chunks_per_doc": Support.DROPPED,  # v1's chunking knob; v2 truncates instead
    "rank_fields": Support.DROPPED,  # v1 only: v2 ranks each document's text whole
}


def endpoint(api_base: str) -> str:
    """The v2 rerank URL; api_base may already name it (as LiteLLM accepts)."""
    return endpoint_url(api_base, PATH)


def call(request: RerankRequest, target: Target) -> UpstreamRequest:
    fields, dropped = options(request, PARAMS)
    body: dict[str, Any] = {
        "model": target.model,
        "query": request.query,
        "documents": request.texts,
    }
    if request.top_n is not None:
        body["top_n"] = request.top_n
    body.update(fields)
    headers = {"content-type": "application/json"}
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    return UpstreamRequest(
        url=endpoint(target.api_base), body=body, headers=headers, dropped_params=dropped
    )


def _count(value: object) -> int:
    """A billed count (the SDK types them as floats): whole units, rounded up."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return math.ceil(value)
    return 0


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse(request: RerankRequest, answer: RawResponse) -> Reranked:
    data = failures.json_object(answer.body)
    scores = results(data, len(request.documents))
    meta = _object(data.get("meta"))
    billed, tokens = _object(meta.get("billed_units")), _object(meta.get("tokens"))
    input_tokens = _count(billed.get("input_tokens")) or _count(tokens.get("input_tokens"))
    return Reranked(
        scores=scores, search_units=_count(billed.get("search_units")), input_tokens=input_tokens
    )

"""Rerank wire: OpenAI-compatible rerank servers (vLLM, Jina AI, Infinity).

`POST {api_base}/rerank`, api_base ending in /v1 as for chat (vLLM serves /rerank,
/v1/rerank and /v2/rerank; Jina https://api.jina.ai/v1/rerank; Infinity /rerank), Bearer
auth when the deployment has a key.

References: vLLM's Re-rank API, https://docs.vllm.ai/en/latest/serving/openai_compatible_server.html#re-rank-api
(`RerankRequest`/`RerankResponse` in vllm/entrypoints/openai/protocol.py); Jina's
https://jina.ai/reranker (https://api.jina.ai/v1/rerank); Infinity's /rerank
(https://github.com/michaelfeil/infinity).

Request: `model`, `query`, `documents` as strings (every one of these servers takes
strings; an object document is sent as `RerankRequest.text`), `top_n` when given, and the
client's other fields unchanged: an OpenAI-compatible upstream gets what it was sent
(the passthrough policy of gateway/providers/params.py). `return_documents` is not sent:
vLLM does not declare it, and the gateway puts the documents back itself.

Response: Cohere's `results: [{"index", "relevance_score", "document"?}]` (parsed by
`request.results`) and a `usage` object: vLLM `{"prompt_tokens", "total_tokens"}` (older
releases `{"total_tokens"}`), Jina `{"total_tokens"}`, Infinity `{"prompt_tokens",
"total_tokens"}`. These vendors bill tokens, not search units: `search_units` is 0.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.providers import failures
from gateway.providers.catalog import endpoint_url
from gateway.providers.spec import UpstreamRequest
from gateway.rerank.request import Reranked, results

if TYPE_CHECKING:
    from gateway.providers.spec import Target
    from gateway.providers.transport import RawResponse
    from gateway.rerank.request import RerankRequest

PATH = "/rerank"


def endpoint(api_base: str) -> str:
    """`{api_base}/rerank`; api_base may already name it (as LiteLLM accepts)."""
    return endpoint_url(api_base, PATH)


def call(request: RerankRequest, target: Target) -> UpstreamRequest:
    body: dict[str, Any] = {
        **{name: value for name, value in request.extra.items() if value is not None},
        "model": target.model,
        "query": request.query,
        "documents": request.texts,
    }
    if request.top_n is not None:
        body["top_n"] = request.top_n
    headers = {"content-type": "application/json"}
    if target.api_key:
        headers["authorization"] = f"Bearer {target.api_key}"
    return UpstreamRequest(url=endpoint(target.api_base), body=body, headers=headers)


def _tokens(usage: object) -> int:
    """Rerank has no output: the prompt tokens, else the total."""
    if not isinstance(usage, dict):
        return 0
    for name in ("prompt_tokens", "total_tokens"):
        value = usage.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0


def parse(request: RerankRequest, answer: RawResponse) -> Reranked:
    data = failures.json_object(answer.body)
    scores = results(data, len(request.documents))
    return Reranked(scores=scores, search_units=0, input_tokens=_tokens(data.get("usage")))

"""Rerank wire: Amazon Bedrock's Rerank API (Agents for Amazon Bedrock Runtime, 2023-07-26).

`POST {agent runtime endpoint}/rerank`, SigV4 for service "bedrock" (the signing name of
bedrock-agent-runtime in botocore's service model), for `cohere.rerank-v3-5:0` and
`amazon.rerank-v1:0`. Reference:
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent-runtime_Rerank.html and
https://docs.aws.amazon.com/bedrock/latest/userguide/rerank-use.html.

Why not InvokeModel on bedrock-runtime: AWS documents calling a reranker directly only
through this Rerank API ("send a Rerank request with an Agents for Amazon Bedrock runtime
endpoint"); no AWS page gives an InvokeModel body for Amazon Rerank 1.0 (only third-party
tutorials do, for Cohere Rerank 3.5). One API serves both models; LiteLLM's Bedrock rerank
uses it too.

The endpoint is the deployment's Bedrock endpoint with "bedrock-runtime" in its host read
as "bedrock-agent-runtime" (LiteLLM's rule), so the default is
`https://bedrock-agent-runtime.{region}.amazonaws.com` and an api_base without that name
(a proxy, the simulator) is used as it is.

Request: `queries` (exactly one TEXT query), `sources` (1 to 1,000 INLINE documents: a
string, or an object holding only a string `text`, as a TEXT document `{"text"}`; any
other object as a JSON document, `jsonDocument` being the object itself),
`rerankingConfiguration` of type BEDROCK_RERANKING_MODEL with the model's
foundation-model ARN and `numberOfResults` (the client's `top_n`, at most the number of
documents, which returns the same results; else every document). Cohere's
`max_tokens_per_doc` goes in `additionalModelRequestFields` (model fields, which AWS
defers to Cohere's Rerank reference); v1's `rank_fields` and `max_chunks_per_doc` are
dropped and named, as on Cohere's own v2 API; any other field is refused.

Response: `{"results": [{"index", "relevanceScore", "document"?}], "nextToken"?}`. A
`nextToken` is not followed: one call per request, and `numberOfResults` asks for what
the client wants.

Billing (https://docs.aws.amazon.com/bedrock/latest/userguide/rerank-pricing.html):
"Reranking is priced per query. A query is a single call to the reranker model that can
contain up to 100 document chunks." `search_units` is therefore ceil(documents / 100),
each document counted as one chunk: Bedrock may split a long document into more chunks,
which the answer does not report, so this is the least a call is billed. No tokens are
reported.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from gateway import errors
from gateway.endpoints import bedrock_family
from gateway.providers import failures
from gateway.providers.bedrock.request import endpoint
from gateway.providers.params import Support
from gateway.providers.spec import UpstreamRequest
from gateway.rerank.request import Reranked, options, results

if TYPE_CHECKING:
    from gateway.providers.spec import Target
    from gateway.providers.transport import RawResponse
    from gateway.rerank.request import RerankRequest

PATH = "/rerank"
MAX_SOURCES = 1000  # RerankRequest.sources, and numberOfResults' maximum
DOCUMENTS_PER_QUERY = 100  # a billed query holds up to 100 document chunks
# Body fields beyond query/documents/top_n/return_documents, by model family.
PARAMS: dict[str, dict[str, Support]] = {
    "cohere.rerank": {
        "max_tokens_per_doc": Support.MAPPED,
        "max_chunks_per_doc": Support.DROPPED,
        "rank_fields": Support.DROPPED,
    },
    "amazon.rerank": {"max_chunks_per_doc": Support.DROPPED, "rank_fields": Support.DROPPED},
}


def url(target: Target) -> str:
    parts = urlsplit(endpoint(target))
    host = parts.netloc.replace("bedrock-runtime", "bedrock-agent-runtime", 1)
    return urlunsplit(parts._replace(netloc=host)).rstrip("/") + PATH


def model_arn(target: Target) -> str:
    """The foundation-model ARN the Rerank API names a model by (an ARN passes as it is)."""
    if target.model.startswith("arn:"):
        return target.model
    region = target.region
    if not region:
        raise errors.InternalError("The Bedrock deployment has no AWS region configured.")
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    if region.startswith("us-gov-"):
        partition = "aws-us-gov"
    return f"arn:{partition}:bedrock:{region}::foundation-model/{bedrock_family(target.model)}"


def _params(target: Target) -> dict[str, Support]:
    name = bedrock_family(target.model.rsplit("/", 1)[-1])
    return next((table for prefix, table in PARAMS.items() if name.startswith(prefix)), {})


def _source(request: RerankRequest, index: int) -> dict[str, Any]:
    document = request.documents[index]
    inline: dict[str, Any] = {"type": "JSON", "jsonDocument": document}
    if isinstance(document, str) or (
        set(document) == {"text"} and isinstance(document["text"], str)
    ):
        inline = {"type": "TEXT", "textDocument": {"text": request.text(index)}}
    return {"type": "INLINE", "inlineDocumentSource": inline}


def call(request: RerankRequest, target: Target) -> UpstreamRequest:
    count = len(request.documents)
    if count > MAX_SOURCES:
        raise errors.InvalidRequestError(
            f"'documents' must have at most {MAX_SOURCES} items for this model.",
            param="documents",
        )
    fields, dropped = options(request, _params(target))
    model: dict[str, Any] = {"modelArn": model_arn(target)}
    if fields:
        model["additionalModelRequestFields"] = fields
    wanted = min(request.top_n, count) if request.top_n is not None else count
    body = {
        "queries": [{"type": "TEXT", "textQuery": {"text": request.query}}],
        "sources": [_source(request, index) for index in range(count)],
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": {
                "modelConfiguration": model,
                "numberOfResults": wanted,
            },
        },
    }
    headers = {"content-type": "application/json", "accept": "application/json"}
    region = None
    if target.api_key:  # a Bedrock API key replaces SigV4
        headers["authorization"] = f"Bearer {target.api_key}"
    else:
        region = target.region
    return UpstreamRequest(
        url=url(target), body=body, headers=headers, sigv4_region=region, dropped_params=dropped
    )


def parse(request: RerankRequest, answer: RawResponse) -> Reranked:
    data = failures.json_object(answer.body)
    documents = len(request.documents)
    scores = results(data, documents, "relevanceScore")
    return Reranked(scores=scores, search_units=-(-documents // DOCUMENTS_PER_QUERY))

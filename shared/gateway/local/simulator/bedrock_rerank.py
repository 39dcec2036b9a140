"""Agents for Amazon Bedrock Runtime Rerank: ``POST /rerank``, for Bedrock's rerank models.

On AWS the API has its own host (bedrock-agent-runtime); here it shares ``/rerank`` with
Cohere v1 and the OpenAI-compatible servers, a body in its shape (``is_rerank_body``)
being answered by it.

Shapes follow botocore's bedrock-agent-runtime service model (API version 2023-07-26) and
https://docs.aws.amazon.com/bedrock/latest/APIReference/API_agent-runtime_Rerank.html:
exactly one TEXT query (1 to 32,000 characters), 1 to 1,000 INLINE sources, each a TEXT
document (``textDocument.text``, 1 to 32,000 characters) or a JSON one
(``jsonDocument``), and a BEDROCK_RERANKING_MODEL configuration naming the model
(``modelArn``: a foundation-model ARN or the model id) with ``numberOfResults`` (1 to
1,000). A body outside the shape is the service's 400 ValidationException ("1
validation error detected: Value ... at '...' failed to satisfy constraint: ...");
a model that is not ``cohere.rerank-v3-5:0`` or ``amazon.rerank-v1:0``, "The provided
model identifier is invalid.".

The answer is ``{"results": [{"index", "relevanceScore"}]}``, most relevant first,
``numberOfResults`` of them (every document when absent or larger; the optional
``document`` and ``nextToken`` are not sent). Scores are every simulated reranker's
(``cohere_rerank.ranking``: the share of the query's words in the document, plus a hash
jitter below 0.01), so the same query and texts rank alike on Cohere and Bedrock; a JSON
document is scored as its JSON text (keys sorted). Auth, errors and faults are
Converse's (``bedrock_api``); the query carries ``[sim-fault:...]`` markers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.endpoints import bedrock_family
from gateway.local.simulator.bedrock_api import BedrockVendor
from gateway.local.simulator.cohere_rerank import ranking
from gateway.local.simulator.scenario import Parsed, PromptScan, RequestError

if TYPE_CHECKING:
    from starlette.requests import Request

    from gateway.local.simulator.scenario import Plan

MODELS = ("cohere.rerank-v3-5:0", "amazon.rerank-v1:0")
MAX_SOURCES = 1000
MAX_TEXT = 32000
INVALID_MODEL = "The provided model identifier is invalid."
_PREFIX = "1 validation error detected: Value {} at '{}' failed to satisfy constraint: "
_REDACTED = "*** Sensitive Data Redacted ***"  # how AWS shows a sensitive member's value
_MEMBERS = frozenset({"queries", "sources", "rerankingConfiguration"})
_TYPES: dict[type, str] = {str: "string", list: "list", dict: "structure"}


@dataclass
class RerankParsed(Parsed):
    """A Rerank body: the query, each source's text as scored, and how many to answer."""

    query: str = ""
    documents: list[str] = field(default_factory=list)
    wanted: int = 0


def is_rerank_body(raw: bytes) -> bool:
    """Whether a ``/rerank`` body is in this API's shape: it names one of the API's
    members, which Cohere's and vLLM's bodies never do."""
    try:
        body = json.loads(raw)
    except ValueError:
        return False
    return isinstance(body, dict) and not _MEMBERS.isdisjoint(body)


def _violation(value: object, path: str, constraint: str) -> RequestError:
    shown = "null" if value is None else f"'{value}'"
    return RequestError(_PREFIX.format(shown, path) + constraint)


def _member(body: dict[str, Any], key: str, path: str, kind: type) -> Any:
    value = body.get(key)
    if value is None:
        raise _violation(None, path, "Member must not be null")
    if not isinstance(value, kind):
        raise _violation(value, path, f"Member must be of type {_TYPES[kind]}")
    return value


def _enum(body: dict[str, Any], key: str, path: str, allowed: str) -> None:
    value = _member(body, key, path, str)
    if value != allowed:
        raise _violation(value, path, f"Member must satisfy enum value set: [{allowed}]")


def _text(holder: dict[str, Any], path: str) -> str:
    text: str = _member(holder, "text", path, str)
    if not 1 <= len(text) <= MAX_TEXT:
        raise _violation(_REDACTED, path, f"Member must have length between 1 and {MAX_TEXT}")
    return text


def _query(body: dict[str, Any]) -> str:
    queries = _member(body, "queries", "queries", list)
    if len(queries) != 1:
        raise _violation(_REDACTED, "queries", "Member must have length equal to 1")
    query = queries[0] if isinstance(queries[0], dict) else {}
    _enum(query, "type", "queries.1.member.type", "TEXT")
    holder = _member(query, "textQuery", "queries.1.member.textQuery", dict)
    return _text(holder, "queries.1.member.textQuery.text")


def _source(source: object, number: int) -> str:
    path = f"sources.{number}.member"
    item = source if isinstance(source, dict) else {}
    _enum(item, "type", f"{path}.type", "INLINE")
    inline = _member(item, "inlineDocumentSource", f"{path}.inlineDocumentSource", dict)
    kind = _member(inline, "type", f"{path}.inlineDocumentSource.type", str)
    if kind == "TEXT":
        holder = _member(inline, "textDocument", f"{path}.inlineDocumentSource.textDocument", dict)
        return _text(holder, f"{path}.inlineDocumentSource.textDocument.text")
    if kind == "JSON" and inline.get("jsonDocument") is not None:
        return json.dumps(inline["jsonDocument"], sort_keys=True, ensure_ascii=False)
    if kind == "JSON":
        raise _violation(
            None, f"{path}.inlineDocumentSource.jsonDocument", "Member must not be null"
        )
    raise _violation(
        kind,
        f"{path}.inlineDocumentSource.type",
        "Member must satisfy enum value set: [TEXT, JSON]",
    )


def _wanted(config: dict[str, Any], sources: int) -> int:
    _enum(config, "type", "rerankingConfiguration.type", "BEDROCK_RERANKING_MODEL")
    path = "rerankingConfiguration.bedrockRerankingConfiguration"
    bedrock = _member(config, "bedrockRerankingConfiguration", path, dict)
    model = _member(bedrock, "modelConfiguration", f"{path}.modelConfiguration", dict)
    arn = _member(model, "modelArn", f"{path}.modelConfiguration.modelArn", str)
    if bedrock_family(arn.rsplit("/", 1)[-1]) not in MODELS:
        raise RequestError(INVALID_MODEL)
    if "additionalModelRequestFields" in model:
        _member(model, "additionalModelRequestFields", f"{path}.modelConfiguration", dict)
    wanted = bedrock.get("numberOfResults", sources)
    if not isinstance(wanted, int) or isinstance(wanted, bool) or not 1 <= wanted <= MAX_SOURCES:
        raise _violation(
            wanted, f"{path}.numberOfResults", f"Member must have value between 1 and {MAX_SOURCES}"
        )
    return min(wanted, sources)


def parse_body(body: dict[str, Any]) -> RerankParsed:
    query = _query(body)
    sources = _member(body, "sources", "sources", list)
    if not 1 <= len(sources) <= MAX_SOURCES:
        raise _violation(
            _REDACTED,
            "sources",
            f"Member must have length between 1 and {MAX_SOURCES}",
        )
    documents = [_source(source, number) for number, source in enumerate(sources, 1)]
    config = _member(body, "rerankingConfiguration", "rerankingConfiguration", dict)
    wanted = _wanted(config, len(documents))
    scan = PromptScan()
    for text in (query, *documents):
        scan.add(text)
    return RerankParsed(
        model="rerank",
        stream=False,
        user_text=query,
        scan=scan,
        query=query,
        documents=documents,
        wanted=wanted,
    )


def results(parsed: RerankParsed) -> list[dict[str, Any]]:
    ranked = ranking(parsed.query, parsed.documents, parsed.wanted)
    return [{"index": index, "relevanceScore": score} for index, score in ranked]


class BedrockRerankVendor(BedrockVendor):
    """The Rerank operation: one JSON answer, no prompt cache."""

    content_policy_is_stop = False
    touches_cache = False

    def __init__(self) -> None:
        super().__init__(stream=False)

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        del request
        return parse_body(body)

    def success(self, plan: Plan) -> dict[str, Any]:
        if not isinstance(plan.parsed, RerankParsed):
            raise TypeError("a rerank plan is parsed by parse_body")
        return {"results": results(plan.parsed)}

"""Cohere's Rerank API, v1 (``POST /v1/rerank``) and v2 (``POST /v2/rerank``), and the
OpenAI-compatible rerank servers on the v1 paths (``/v1/rerank``, ``/rerank``), simulated.

References: https://docs.cohere.com/reference/rerank (v2),
https://docs.cohere.com/v1/reference/rerank (v1), https://docs.cohere.com/changelog/rerank-v3.5
(what v2 changed), https://docs.cohere.com/reference/errors (``{"message": ...}`` bodies),
the cohere-python SDK's generated types; vLLM's ``RerankResponse``
(vllm/entrypoints/openai/protocol.py, https://docs.vllm.ai).

Who answers:
- ``/v2/rerank``: Cohere v2. ``model`` is required; ``documents`` are strings (objects were
  removed in v2); ``top_n`` and ``max_tokens_per_doc`` are positive integers; results are
  ``{"index", "relevance_score"}`` only.
- ``/v1/rerank`` and ``/rerank``: a Cohere model (named ``rerank-*``, or none: v1's
  ``model`` is optional) is answered by Cohere v1: documents are strings or objects of
  strings (``text``, or the ``rank_fields`` named, which are ranked in order); with
  ``return_documents`` (default false) each result carries its document, an object
  exactly as sent; ``len(documents) * max_chunks_per_doc`` (default 10) may not pass
  10,000. Any other model is answered as vLLM's server answers the same paths (vLLM, Jina
  and Infinity serve Cohere's request on ``/v1/rerank`` and ``/rerank``):
  ``{"id", "model", "usage": {"prompt_tokens", "total_tokens"}, "results": [{"index",
  "document": {"text"}, "relevance_score"}]}``, the document always included.

Deterministic answers (``relevance`` is public so tests can recompute them): a document's
score is the share of the query's distinct words (``\\w+``, case-folded) it contains, times
0.99, plus a jitter in [0, 0.01) from a SHA-256 of query and document, so more overlap
always ranks higher and ties break by the hash. Results come best first, cut to ``top_n``.
Cohere bills ``search_units = ceil(len(documents) / 100)`` ("one query with up to 100
documents", Cohere's pricing; its chunking of long documents is not simulated); vLLM's
usage counts, per document, the tokens of the query plus the document
(``scenario.count_tokens``).

Every route authenticates like Cohere (``Authorization: Bearer``, any key) and answers
errors in Cohere's shape, with its statuses (401, 429, 500, 503; 529 is sent as 503).
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from gateway.local.simulator.engine import ErrorContext, Ev, Vendor, json_response
from gateway.local.simulator.scenario import (
    Parsed,
    PromptScan,
    RequestError,
    count_tokens,
    strip_markers,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

    from gateway.local.simulator.scenario import Plan

Flavor = Literal["cohere", "vllm"]
Document = str | dict[str, str]

COHERE_MODEL_PREFIX = "rerank-"
MAX_DOCUMENTS = 10_000
MAX_CHUNKS = 10_000
DEFAULT_CHUNKS_PER_DOC = 10
DOCUMENTS_PER_SEARCH_UNIT = 100
_WORD = re.compile(r"\w+")

_RATE = "You are past the per minute request limit, please wait and try again later."
_ERRORS: dict[str, tuple[int, str]] = {
    "bad_json": (400, "invalid request: the request body is not valid JSON"),
    "denied": (401, "no api key supplied"),
    "401": (401, "invalid api token"),
    "429": (429, _RATE),
    "500": (500, "internal server error, this has been reported to our developers"),
    "502": (502, "bad gateway"),
    "503": (503, "service unavailable"),
    "529": (503, "service unavailable"),
    "content_policy": (400, "invalid request: the query was blocked by a safety filter"),
}


@dataclass
class RerankParsed(Parsed):
    """A rerank body: who answers, what is ranked (each document's text), how it comes back."""

    version: int = 1
    flavor: Flavor = "cohere"
    query: str = ""
    documents: list[Document] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)
    top_n: int | None = None
    return_documents: bool = False


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.casefold()))


def relevance(query: str, text: str) -> float:
    """The score this simulator gives ``text`` for ``query``."""
    asked = _words(query)
    share = len(asked & _words(text)) / len(asked) if asked else 0.0
    digest = hashlib.sha256(f"{query}\x00{text}".encode()).digest()
    return share * 0.99 + int.from_bytes(digest[:4], "big") / 2**32 / 100


def ranking(query: str, texts: list[str], top_n: int | None = None) -> list[tuple[int, float]]:
    """(index, score) pairs, best first, at most ``top_n``."""
    scored = [(index, relevance(query, text)) for index, text in enumerate(texts)]
    scored.sort(key=lambda pair: (-pair[1], pair[0]))
    return scored[:top_n] if top_n else scored


def search_units(documents: int) -> int:
    return max(1, math.ceil(documents / DOCUMENTS_PER_SEARCH_UNIT))


def _positive(body: dict[str, Any], name: str) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise RequestError(f"invalid request: {name} must be a positive integer", name)
    return value


def _model(body: dict[str, Any], version: int) -> str | None:
    model = body.get("model")
    if model is None and version == 1:
        return None
    if not isinstance(model, str) or not model:
        raise RequestError("a model parameter is required for this endpoint.", "model")
    return model


def _query(body: dict[str, Any]) -> str:
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise RequestError(
            "invalid request: query must not be empty or be only whitespace", "query"
        )
    return query


def _rank_fields(body: dict[str, Any]) -> list[str]:
    fields = body.get("rank_fields")
    if fields is None:
        return []
    if not isinstance(fields, list) or not all(isinstance(f, str) and f for f in fields):
        raise RequestError("invalid request: rank_fields must be a list of strings", "rank_fields")
    return fields


def _text(document: object, index: int, version: int, fields: list[str]) -> str:
    """The text ranked for one document; a document the API refuses raises."""
    if isinstance(document, str):
        return document
    if version == 2:
        raise RequestError("invalid request: documents must be a list of strings", "documents")
    if not isinstance(document, dict) or not all(isinstance(v, str) for v in document.values()):
        raise RequestError(
            f"invalid request: document {index} must be a string or an object of strings",
            "documents",
        )
    wanted = fields or ["text"]
    missing = [name for name in wanted if name not in document]
    if missing:
        raise RequestError(
            f"invalid request: document {index} has no field '{missing[0]}'", "documents"
        )
    return " ".join(document[name] for name in wanted)


def _documents(body: dict[str, Any], version: int) -> tuple[list[Document], list[str]]:
    documents = body.get("documents")
    if not isinstance(documents, list) or not documents:
        raise RequestError("invalid request: list of documents must not be empty", "documents")
    if version == 2 and len(documents) > MAX_DOCUMENTS:
        raise RequestError(
            f"invalid request: number of documents must be at most {MAX_DOCUMENTS}", "documents"
        )
    chunks = _positive(body, "max_chunks_per_doc") if version == 1 else None
    if version == 1 and len(documents) * (chunks or DEFAULT_CHUNKS_PER_DOC) > MAX_CHUNKS:
        raise RequestError(
            "invalid request: number of total max chunks (number of documents * max chunks "
            "per doc) must be less than 10000",
            "documents",
        )
    fields = _rank_fields(body) if version == 1 else []
    texts = [_text(doc, index, version, fields) for index, doc in enumerate(documents)]
    return documents, texts


def parse_body(body: dict[str, Any], version: int) -> RerankParsed:
    model = _model(body, version)
    query = _query(body)
    documents, texts = _documents(body, version)
    top_n = _positive(body, "top_n")
    if version == 2:
        _positive(body, "max_tokens_per_doc")
    returned = body.get("return_documents", False)
    if version == 1 and not isinstance(returned, bool):
        raise RequestError(
            "invalid request: return_documents must be a boolean", "return_documents"
        )
    cohere = version == 2 or model is None or model.startswith(COHERE_MODEL_PREFIX)
    scan = PromptScan()
    for text in texts:
        scan.add(f"{query} {text}")
    return RerankParsed(
        model=model or "unknown",
        stream=False,
        user_text=query,
        scan=scan,
        version=version,
        flavor="cohere" if cohere else "vllm",
        query=query,
        documents=documents,
        texts=texts,
        top_n=top_n,
        return_documents=version == 1 and returned is True,
    )


def _cohere_body(request: RerankParsed, plan: Plan) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    for index, score in ranking(strip_markers(request.query), request.texts, request.top_n):
        result: dict[str, Any] = {"index": index, "relevance_score": score}
        if request.return_documents:
            document = request.documents[index]
            result["document"] = document if isinstance(document, dict) else {"text": document}
        results.append(result)
    meta = {
        "api_version": {"version": str(request.version), "is_experimental": False},
        "billed_units": {"search_units": search_units(len(request.documents))},
    }
    return {"id": str(uuid.UUID(int=plan.seq)), "results": results, "meta": meta}


def prompt_tokens(query: str, texts: list[str]) -> int:
    """vLLM's usage: each (query, document) pair is one prompt."""
    return sum(count_tokens(query) + count_tokens(text) for text in texts)


def _vllm_body(request: RerankParsed, plan: Plan) -> dict[str, Any]:
    results = [
        {"index": index, "document": {"text": request.texts[index]}, "relevance_score": score}
        for index, score in ranking(strip_markers(request.query), request.texts, request.top_n)
    ]
    tokens = prompt_tokens(request.query, request.texts)
    return {
        "id": f"rerank-sim{plan.seq:06d}",
        "model": request.model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        "results": results,
    }


class CohereRerankVendor(Vendor):
    """Cohere's auth and error bodies; rerank answers (never streamed: only ``success``)."""

    name = "cohere"
    touches_cache = False

    def __init__(self, version: Literal[1, 2]) -> None:
        self.version = version

    def credential(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    def check_auth(self, request: Request) -> Response | None:
        return None if self.credential(request) else self.error("denied", ErrorContext())

    def parse(self, body: dict[str, Any], request: Request) -> Parsed:
        del request
        return parse_body(body, self.version)

    def error(self, kind: str, ctx: ErrorContext) -> Response:
        status, message = self._error(kind, ctx)
        headers = self.headers(ctx.request_id)
        headers.update(self.retry_headers(status, ctx))
        return json_response({"message": message}, status, headers)

    def _error(self, kind: str, ctx: ErrorContext) -> tuple[int, str]:
        if kind == "400":
            return ctx.status, ctx.message or "invalid request: list of documents must not be empty"
        if kind == "leak":
            return 401, f"invalid api token: {ctx.credential}"
        if kind == "context_length":
            return 400, f"too many tokens: query is {2048 + ctx.input_tokens} tokens, max 2048"
        return _ERRORS[kind]

    def success(self, plan: Plan) -> dict[str, Any]:
        request = plan.parsed
        if not isinstance(request, RerankParsed):
            raise TypeError("a rerank plan is parsed by parse_body")
        if request.flavor == "vllm":
            return _vllm_body(request, plan)
        return _cohere_body(request, plan)

    def events(self, plan: Plan) -> list[Ev]:
        del plan
        return []

    def stream_error(self) -> bytes:
        return b""

    def stream_invalid(self) -> bytes:
        return b""

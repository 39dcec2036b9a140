"""The rerank wires (gateway/rerank/cohere.py, compatible.py) against golden files.

Per wire, under tests/fixtures/rerank/<wire>/:
- `<case>.request.json`: the RerankRequest (`request`), the deployment (`target`) and the
  exact upstream call expected (`upstream`: url, headers, body, dropped_params);
- `<case>.response.json`: an upstream answer shaped as the vendor documents it (`body`,
  for a request of `documents` documents) and the Reranked it parses to (`reranked`).

Cohere's v2 bodies are also checked against the fields its reference documents.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway import errors
from gateway.providers.spec import Target
from gateway.providers.transport import RawResponse
from gateway.rerank import cohere, compatible
from gateway.rerank.request import Reranked, RerankRequest, validate_rerank

if TYPE_CHECKING:
    from types import ModuleType

FIXTURES = Path(__file__).parent.parent / "fixtures" / "rerank"
WIRES: dict[str, ModuleType] = {"cohere": cohere, "compatible": compatible}
# https://docs.cohere.com/reference/rerank: the v2 request body's fields.
COHERE_V2_FIELDS = {"model", "query", "documents", "top_n", "max_tokens_per_doc", "priority"}


def load(wire: str, name: str) -> Any:
    return json.loads((FIXTURES / wire / name).read_text())


def cases(suffix: str) -> list[tuple[str, str]]:
    return sorted(
        (wire, path.name.removesuffix(suffix))
        for wire in WIRES
        for path in (FIXTURES / wire).glob(f"*{suffix}")
    )


def rerank_request(fields: dict[str, Any]) -> RerankRequest:
    return RerankRequest(
        model=fields["model"],
        query=fields["query"],
        documents=tuple(fields["documents"]),
        top_n=fields["top_n"],
        return_documents=fields["return_documents"],
        extra=fields["extra"],
    )


def target(fields: dict[str, Any]) -> Target:
    return Target(model_name="rerank", dialect="openai", **fields)


def raw(body: object, status: int = 200) -> RawResponse:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawResponse(status, httpx.Headers({"content-type": "application/json"}), content)


def placeholder_request(documents: int) -> RerankRequest:
    return RerankRequest(
        model="rerank", query="q", documents=tuple(f"document {i}" for i in range(documents))
    )


@pytest.mark.parametrize(("wire", "case"), cases(".request.json"))
def test_call_builds_the_golden_upstream_request(wire: str, case: str) -> None:
    golden = load(wire, f"{case}.request.json")
    request = rerank_request(golden["request"])
    upstream = WIRES[wire].call(request, target(golden["target"]))
    expected = golden["upstream"]
    assert upstream.url == expected["url"]
    assert upstream.headers == expected["headers"]
    assert upstream.body == expected["body"]
    assert list(upstream.dropped_params) == expected["dropped_params"]
    assert upstream.stream is False
    assert all(isinstance(document, str) for document in upstream.body["documents"])
    if wire == "cohere":
        assert set(upstream.body) <= COHERE_V2_FIELDS


@pytest.mark.parametrize(("wire", "case"), cases(".request.json"))
def test_golden_requests_are_valid_client_bodies(wire: str, case: str) -> None:
    fields = load(wire, f"{case}.request.json")["request"]
    body = {key: value for key, value in fields.items() if key != "extra" and value is not None}
    assert validate_rerank({**body, **fields["extra"]}) == rerank_request(fields)


@pytest.mark.parametrize(("wire", "case"), cases(".response.json"))
def test_parse_reads_the_golden_answer(wire: str, case: str) -> None:
    golden = load(wire, f"{case}.response.json")
    reranked = WIRES[wire].parse(placeholder_request(golden["documents"]), raw(golden["body"]))
    expected = golden["reranked"]
    assert reranked == Reranked(
        scores=[(index, score) for index, score in expected["scores"]],
        search_units=expected["search_units"],
        input_tokens=expected["input_tokens"],
    )


@pytest.mark.parametrize(
    ("api_base", "url"),
    [
        ("https://api.cohere.com", "https://api.cohere.com/v2/rerank"),
        ("https://api.cohere.com/", "https://api.cohere.com/v2/rerank"),
        ("https://api.cohere.com/v2/rerank", "https://api.cohere.com/v2/rerank"),
    ],
)
def test_cohere_endpoint(api_base: str, url: str) -> None:
    assert cohere.endpoint(api_base) == url


@pytest.mark.parametrize(
    ("api_base", "url"),
    [
        ("http://vllm:8000/v1", "http://vllm:8000/v1/rerank"),
        ("http://vllm:8000/v1/", "http://vllm:8000/v1/rerank"),
        ("http://vllm:8000/v1/rerank", "http://vllm:8000/v1/rerank"),
        ("http://vllm:8000", "http://vllm:8000/rerank"),
        ("https://api.jina.ai/v1", "https://api.jina.ai/v1/rerank"),
    ],
)
def test_compatible_endpoint(api_base: str, url: str) -> None:
    assert compatible.endpoint(api_base) == url


def test_cohere_refuses_a_field_v2_does_not_know() -> None:
    request = validate_rerank(
        {"model": "m", "query": "q", "documents": ["a"], "instruction": "be brief"}
    )
    deployment = target({"provider": "cohere", "model": "rerank-v3.5", "api_base": "https://x"})
    with pytest.raises(errors.UnsupportedParameterError) as refused:
        cohere.call(request, deployment)
    assert refused.value.param == "instruction"


def test_compatible_passes_unknown_fields_through() -> None:
    request = validate_rerank(
        {"model": "m", "query": "q", "documents": ["a"], "instruction": "be brief", "top_n": 1}
    )
    deployment = target({"provider": "hosted_vllm", "model": "bge", "api_base": "http://v/v1"})
    body = compatible.call(request, deployment).body
    expected = {"instruction": "be brief", "model": "bge", "query": "q", "documents": ["a"]}
    assert body == {**expected, "top_n": 1}


def test_cohere_counts_tokens_where_meta_has_them() -> None:
    """ApiMeta (the reference's `meta`) may carry billed input tokens or `tokens`."""
    body = {
        "results": [{"index": 0, "relevance_score": 0.5}],
        "meta": {"billed_units": {"search_units": 2.0}, "tokens": {"input_tokens": 41.0}},
    }
    assert cohere.parse(placeholder_request(1), raw(body)) == Reranked(
        scores=[(0, 0.5)], search_units=2, input_tokens=41
    )


def test_vllm_usage_with_prompt_tokens() -> None:
    body = {
        "id": "rerank-1",
        "model": "m",
        "usage": {"prompt_tokens": 12, "total_tokens": 12},
        "results": [{"index": 0, "document": {"text": "a"}, "relevance_score": 0.25}],
    }
    reranked = compatible.parse(placeholder_request(1), raw(body))
    assert (reranked.input_tokens, reranked.search_units) == (12, 0)


@pytest.mark.parametrize("wire", sorted(WIRES))
@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        {"id": "x"},
        {"results": {"index": 0}},
        {"results": [{"index": 2, "relevance_score": 0.1}]},
        {"results": [{"index": -1, "relevance_score": 0.1}]},
        {"results": [{"index": True, "relevance_score": 0.1}]},
        {"results": [{"index": 0, "relevance_score": "high"}]},
        {"results": [{"index": 0}]},
        {"results": ["0"]},
    ],
)
def test_a_malformed_answer_is_an_upstream_error(wire: str, body: object) -> None:
    with pytest.raises(errors.UpstreamError):
        WIRES[wire].parse(placeholder_request(2), raw(body))


@pytest.mark.parametrize("wire", sorted(WIRES))
def test_no_key_no_authorization(wire: str) -> None:
    request = validate_rerank({"model": "m", "query": "q", "documents": ["a"]})
    deployment = target({"provider": "x", "model": "m", "api_base": "http://h/v1"})
    assert "authorization" not in WIRES[wire].call(request, deployment).headers

"""Rerank answers in Cohere's shape, their cost, and the bound a budget holds for them."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.config import parse_config
from gateway.errors import InvalidRequestError
from gateway.providers.spec import TokenUsage
from gateway.rerank.answer import answer, cost, worst_case
from gateway.rerank.request import Reranked, validate_rerank


def deployment(**info: Any) -> Any:
    entry = {
        "model_name": "r",
        "litellm_params": {"model": "cohere/rerank-v3.5", "api_key": "k"},
        "model_info": info,
    }
    return parse_config({"model_list": [entry]}, lambda _: None).deployments[0]


def test_results_are_sorted_cut_to_top_n_and_carry_documents_as_sent() -> None:
    request = validate_rerank(
        {"model": "r", "query": "q", "documents": ["a", {"text": "b", "id": 7}, "c"], "top_n": 2}
    )
    body = answer("rid", request, Reranked([(0, 0.1), (1, 0.9), (2, 0.5)], search_units=1))
    assert body == {
        "id": "rid",
        "results": [
            {"index": 1, "relevance_score": 0.9, "document": {"text": "b", "id": 7}},
            {"index": 2, "relevance_score": 0.5, "document": {"text": "c"}},
        ],
        "meta": {"billed_units": {"search_units": 1}},
    }
    bare = validate_rerank(
        {"model": "r", "query": "q", "documents": ["a"], "return_documents": False}
    )
    assert answer("x", bare, Reranked([(0, 0.3)], input_tokens=4))["results"] == [
        {"index": 0, "relevance_score": 0.3}
    ]


def test_equal_scores_keep_document_order() -> None:
    request = validate_rerank({"model": "r", "query": "q", "documents": ["a", "b", "c"]})
    body = answer("x", request, Reranked([(2, 0.5), (0, 0.5), (1, 0.7)]))
    assert [r["index"] for r in body["results"]] == [1, 0, 2]


def test_cost_is_tokens_plus_search_units_or_none() -> None:
    assert cost(TokenUsage(), 3, deployment(input_cost_per_query=0.002)) == 6_000
    priced = deployment(input_cost_per_query=0.002, input_cost_per_token=1e-6)
    assert cost(TokenUsage(input_tokens=500), 1, priced) == 2_500
    assert cost(TokenUsage(), 1, deployment()) is None


def test_worst_case_bounds_the_search_units_of_chunked_documents() -> None:
    per_query = deployment(input_cost_per_query=0.001)  # 1,000 micro-dollars a unit
    few = validate_rerank({"model": "r", "query": "q", "documents": ["short"] * 100})
    assert worst_case(1_000, few, [per_query]) == 2_000  # 100 documents + 0 long: 2 units max
    long_doc = "word " * 10_000  # 50,000 bytes: at most 50,000 // 499 = 100 more chunks
    many = validate_rerank({"model": "r", "query": "q", "documents": [long_doc]})
    assert worst_case(60_000, many, [per_query]) == 2_000
    assert worst_case(60_000, many, [deployment()]) == 0  # nothing priced


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"query": "q", "documents": ["a"]}, "model"),
        ({"model": "r", "query": "", "documents": ["a"]}, "query"),
        ({"model": "r", "query": "q", "documents": "a"}, "documents"),
        ({"model": "r", "query": "q", "documents": [{}]}, "documents"),
        ({"model": "r", "query": "q", "documents": ["a"], "top_n": True}, "top_n"),
        (
            {"model": "r", "query": "q", "documents": ["a"], "return_documents": 1},
            "return_documents",
        ),
    ],
)
def test_bad_bodies_name_their_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        validate_rerank(body)
    assert caught.value.param == param

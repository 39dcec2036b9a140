"""The simulator's rerank routes (Cohere v1 and v2, and vLLM-style servers), over HTTP.

Answers are recomputed with the simulator's own scoring (`ranking`, `search_units`,
`prompt_tokens`); the last tests send each gateway wire's `call()` to the simulator and
read the answer back with its `parse()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

from gateway.local.simulator.cohere_rerank import prompt_tokens, ranking, search_units
from gateway.providers.spec import Target
from gateway.providers.transport import RawResponse
from gateway.rerank import cohere, compatible
from gateway.rerank.request import Reranked, validate_rerank

if TYPE_CHECKING:
    from gateway.local.simulator import SimulatorApp
    from gateway.providers.spec import UpstreamRequest

KEY = "co-sim-0123456789abcdef"
AUTH = {"authorization": f"Bearer {KEY}"}
QUERY = "What is the capital of the United States?"
DOCS = [
    "Carson City is the capital city of the American state of Nevada.",
    "The Commonwealth of the Northern Mariana Islands is a group of islands in the Pacific "
    "Ocean. Its capital is Saipan.",
    "Washington, D.C. is the capital of the United States. It is a federal district.",
    "Capital punishment is legal in 30 of the 50 states.",
]
COHERE_MODEL = "rerank-v3.5"
VLLM_MODEL = "BAAI/bge-reranker-base"


def post(http: httpx.Client, path: str, body: dict[str, Any]) -> httpx.Response:
    return http.post(path, json=body, headers=AUTH)


def ok(http: httpx.Client, path: str, body: dict[str, Any]) -> Any:
    answer = post(http, path, body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def scores(results: list[dict[str, Any]]) -> list[tuple[int, float]]:
    return [(result["index"], result["relevance_score"]) for result in results]


def test_more_shared_words_rank_higher(http: httpx.Client) -> None:
    documents = ["blue sky", "red apple", "red apple pie recipe", "apple"]
    body = {"model": COHERE_MODEL, "query": "Red apple pie", "documents": documents}
    results = ok(http, "/v2/rerank", body)["results"]
    assert [result["index"] for result in results] == [2, 1, 3, 0]
    assert all(0 <= result["relevance_score"] <= 1 for result in results)


def test_v2_answers_cohere_v2(http: httpx.Client) -> None:
    body = {"model": COHERE_MODEL, "query": QUERY, "documents": DOCS, "top_n": 2}
    answer = ok(http, "/v2/rerank", body)
    assert set(answer) == {"id", "results", "meta"}
    assert all(set(result) == {"index", "relevance_score"} for result in answer["results"])
    assert scores(answer["results"]) == ranking(QUERY, DOCS, 2)
    assert answer["results"][0]["index"] == 2
    assert answer["meta"] == {
        "api_version": {"version": "2", "is_experimental": False},
        "billed_units": {"search_units": 1},
    }


def test_equal_bodies_answer_equally(http: httpx.Client) -> None:
    body = {"model": COHERE_MODEL, "query": QUERY, "documents": DOCS}
    assert ok(http, "/v2/rerank", body)["results"] == ok(http, "/v2/rerank", body)["results"]


@pytest.mark.parametrize(("documents", "units"), [(1, 1), (100, 1), (101, 2), (250, 3)])
def test_a_search_unit_is_up_to_100_documents(
    http: httpx.Client, documents: int, units: int
) -> None:
    body = {"model": COHERE_MODEL, "query": "q", "documents": [f"d{i}" for i in range(documents)]}
    assert ok(http, "/v2/rerank", body)["meta"]["billed_units"] == {"search_units": units}
    assert search_units(documents) == units


def test_v1_returns_documents_only_when_asked(http: httpx.Client) -> None:
    documents: list[Any] = [DOCS[0], {"text": DOCS[2], "id": "dc"}]
    body = {"model": COHERE_MODEL, "query": QUERY, "documents": documents}
    plain = ok(http, "/v1/rerank", body)
    assert all("document" not in result for result in plain["results"])
    assert plain["meta"]["api_version"]["version"] == "1"
    returned = ok(http, "/v1/rerank", {**body, "return_documents": True})["results"]
    assert [result["index"] for result in returned] == [1, 0]
    assert returned[0]["document"] == {"text": DOCS[2], "id": "dc"}  # an object, as sent
    assert returned[1]["document"] == {"text": DOCS[0]}


def test_v1_ranks_the_rank_fields_in_order(http: httpx.Client) -> None:
    documents = [
        {"title": "red apple", "text": "blue sky"},
        {"title": "blue", "text": "red apple pie"},
    ]
    body = {"query": "red apple pie", "documents": documents}  # v1's model is optional
    by_text = ok(http, "/v1/rerank", body)["results"]
    by_title = ok(http, "/v1/rerank", {**body, "rank_fields": ["title"]})["results"]
    assert [result["index"] for result in by_text] == [1, 0]
    assert [result["index"] for result in by_title] == [0, 1]


@pytest.mark.parametrize("path", ["/v1/rerank", "/rerank"])
def test_other_models_get_vllms_answer(http: httpx.Client, path: str) -> None:
    body = {"model": VLLM_MODEL, "query": QUERY, "documents": DOCS, "top_n": 3}
    answer = ok(http, path, body)
    assert set(answer) == {"id", "model", "usage", "results"}
    assert answer["model"] == VLLM_MODEL
    tokens = prompt_tokens(QUERY, DOCS)
    assert answer["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}
    assert scores(answer["results"]) == ranking(QUERY, DOCS, 3)
    assert all(r["document"] == {"text": DOCS[r["index"]]} for r in answer["results"])


def test_cohere_models_on_the_bare_path_get_cohere_v1(http: httpx.Client) -> None:
    answer = ok(http, "/rerank", {"model": "rerank-english-v3.0", "query": "q", "documents": ["a"]})
    assert set(answer) == {"id", "results", "meta"}


GOOD = {"model": COHERE_MODEL, "query": QUERY, "documents": ["a", "b"]}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v2/rerank", {"query": QUERY, "documents": ["a"]}),
        ("/v2/rerank", {"model": COHERE_MODEL, "documents": ["a"]}),
        ("/v1/rerank", {"model": COHERE_MODEL, "documents": ["a"]}),
        ("/v1/rerank", {**GOOD, "query": "   "}),
        ("/v2/rerank", {**GOOD, "documents": []}),
        ("/v1/rerank", {**GOOD, "documents": "a"}),
        ("/v2/rerank", {**GOOD, "documents": [{"text": "a"}]}),
        ("/v2/rerank", {**GOOD, "documents": ["a"] * 10_001}),
        ("/v2/rerank", {**GOOD, "top_n": 0}),
        ("/v1/rerank", {**GOOD, "top_n": "2"}),
        ("/v2/rerank", {**GOOD, "max_tokens_per_doc": 0}),
        ("/v1/rerank", {**GOOD, "documents": ["a"] * 1001}),  # 1001 * 10 chunks
        ("/v1/rerank", {**GOOD, "documents": ["a"] * 101, "max_chunks_per_doc": 100}),
        ("/v1/rerank", {**GOOD, "documents": [{"title": "no text"}]}),
        ("/v1/rerank", {**GOOD, "documents": [{"text": 7}]}),
        ("/v1/rerank", {**GOOD, "documents": [{"text": "a"}], "rank_fields": ["title"]}),
        ("/v1/rerank", {**GOOD, "return_documents": "yes"}),
    ],
)
def test_bad_bodies_are_cohere_400s(http: httpx.Client, path: str, body: dict[str, Any]) -> None:
    answer = post(http, path, body)
    assert answer.status_code == 400, answer.text
    assert set(answer.json()) == {"message"}
    assert answer.json()["message"]


@pytest.mark.parametrize("path", ["/v1/rerank", "/v2/rerank", "/rerank"])
def test_no_key_is_refused(http: httpx.Client, path: str) -> None:
    answer = http.post(path, json=GOOD)
    assert answer.status_code == 401
    assert answer.json() == {"message": "no api key supplied"}


def test_a_body_that_is_not_json(http: httpx.Client) -> None:
    answer = http.post("/v2/rerank", content=b"{", headers=AUTH)
    assert answer.status_code == 400
    assert set(answer.json()) == {"message"}


def test_faults_by_url_prefix(http: httpx.Client, sim: SimulatorApp) -> None:
    throttled = post(http, "/_fault/429,times=1/v2/rerank", GOOD)
    assert throttled.status_code == 429
    assert throttled.headers["retry-after"] == "7"
    assert set(throttled.json()) == {"message"}
    assert post(http, "/_fault/429,times=1/v2/rerank", GOOD).status_code == 200
    assert [r["vendor"] for r in sim.requests] == ["cohere", "cohere"]


@pytest.mark.parametrize(("fault", "status"), [("500", 500), ("503", 503), ("529", 503)])
def test_faults_by_header(http: httpx.Client, fault: str, status: int) -> None:
    answer = http.post("/v2/rerank", json=GOOD, headers={**AUTH, "x-sim-fault": fault})
    assert answer.status_code == status
    assert set(answer.json()) == {"message"}


def test_a_marker_in_the_query_faults_and_is_not_ranked(http: httpx.Client) -> None:
    marked = {**GOOD, "query": "[sim-fault:401] capital"}
    assert post(http, "/v2/rerank", marked).status_code == 401
    answer = ok(http, "/v2/rerank", {**GOOD, "query": "[sim-chunks:2] capital"})
    assert scores(answer["results"]) == ranking("capital", ["a", "b"])


# ---- the gateway's wires, end to end -------------------------------------------------


def send(upstream: UpstreamRequest) -> RawResponse:
    answer = httpx.post(upstream.url, json=upstream.body, headers=upstream.headers, timeout=10)
    return RawResponse(answer.status_code, answer.headers, answer.content)


def deployment(provider: str, model: str, api_base: str) -> Target:
    return Target(
        model_name="reranker",
        provider=provider,
        dialect="openai",
        model=model,
        api_base=api_base,
        api_key=KEY,
    )


@pytest.mark.parametrize(
    "documents", [DOCS, [{"text": DOCS[0]}, {"title": "D.C.", "text": DOCS[2]}, DOCS[3]]]
)
def test_the_cohere_wire_end_to_end(base: str, sim: SimulatorApp, documents: list[Any]) -> None:
    request = validate_rerank(
        {
            "model": "reranker",
            "query": QUERY,
            "documents": documents,
            "top_n": 2,
            "max_tokens_per_doc": 256,
            "max_chunks_per_doc": 3,
        }
    )
    upstream = cohere.call(request, deployment("cohere", COHERE_MODEL, base))
    assert upstream.dropped_params == ("max_chunks_per_doc",)
    raw = send(upstream)
    assert raw.status == 200, raw.body
    assert sim.requests[-1]["path"] == "/v2/rerank"
    assert cohere.parse(request, raw) == Reranked(
        scores=ranking(QUERY, request.texts, 2), search_units=1, input_tokens=0
    )


@pytest.mark.parametrize(("suffix", "path"), [("/v1", "/v1/rerank"), ("", "/rerank")])
def test_the_compatible_wire_end_to_end(
    base: str, sim: SimulatorApp, suffix: str, path: str
) -> None:
    request = validate_rerank({"model": "reranker", "query": QUERY, "documents": DOCS})
    raw = send(compatible.call(request, deployment("hosted_vllm", VLLM_MODEL, base + suffix)))
    assert raw.status == 200, raw.body
    assert sim.requests[-1]["path"] == path
    assert compatible.parse(request, raw) == Reranked(
        scores=ranking(QUERY, DOCS), search_units=0, input_tokens=prompt_tokens(QUERY, DOCS)
    )


def test_a_faulted_cohere_deployment_fails_once(base: str) -> None:
    request = validate_rerank({"model": "reranker", "query": QUERY, "documents": DOCS})
    target = deployment("cohere", COHERE_MODEL, f"{base}/_fault/503,times=1")
    assert send(cohere.call(request, target)).status == 503
    recovered = send(cohere.call(request, target))
    assert cohere.parse(request, recovered).scores == ranking(QUERY, DOCS)

"""The Bedrock rerank wire (gateway/rerank/bedrock.py) against golden files and botocore.

Each `<case>.request.json` holds the client's (Cohere-shaped) body, the deployment and the
Rerank call expected; each `<case>.response.json` an answer and what the wire reads
from it. Request bodies are also checked against botocore's bedrock-agent-runtime model.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from botocore.session import get_session
from botocore.validate import ParamValidator

from gateway import errors
from gateway.providers.spec import Target
from gateway.providers.transport import RawResponse
from gateway.rerank import bedrock
from gateway.rerank.request import validate_rerank

if TYPE_CHECKING:
    from botocore.model import OperationModel

FIXTURES = Path(__file__).parent.parent / "fixtures" / "bedrock_rerank"
REQUEST_CASES = sorted(
    p.name.removesuffix(".request.json") for p in FIXTURES.glob("*.request.json")
)
RESPONSE_CASES = sorted(
    p.name.removesuffix(".response.json") for p in FIXTURES.glob("*.response.json")
)
COHERE = "cohere.rerank-v3-5:0"
AMAZON = "amazon.rerank-v1:0"


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def target(model: str = COHERE, **kwargs: Any) -> Target:
    fields: dict[str, Any] = {"region": "us-east-1", "api_base": ""} | kwargs
    return Target(model_name="rr", provider="bedrock", dialect="bedrock", model=model, **fields)


def rerank(**body: Any) -> Any:
    return validate_rerank({"model": "rr", "query": "q", "documents": ["a", "b", "c"], **body})


def raw(body: object) -> RawResponse:
    return RawResponse(200, httpx.Headers({}), json.dumps(body).encode())


@functools.cache
def operation() -> OperationModel:
    return get_session().get_service_model("bedrock-agent-runtime").operation_model("Rerank")


def botocore_report(body: dict[str, Any]) -> str:
    shape = operation().input_shape
    assert shape is not None
    report = ParamValidator().validate(body, shape)
    return str(report.generate_report()) if report.has_errors() else ""


# ---- golden files ----------------------------------------------------------------------


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_golden(case: str) -> None:
    golden = load(f"{case}.request.json")
    up = bedrock.call(validate_rerank(golden["cohere"]), target(**golden["target"]))
    expected = golden["bedrock"]
    assert up.url == expected["url"]
    assert up.body == expected["body"]
    assert up.sigv4_region == expected["sigv4_region"]
    assert list(up.dropped_params) == expected["dropped_params"]
    assert up.headers == {"content-type": "application/json", "accept": "application/json"}


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_body_is_valid_for_botocore(case: str) -> None:
    golden = load(f"{case}.request.json")
    up = bedrock.call(validate_rerank(golden["cohere"]), target(**golden["target"]))
    assert botocore_report(up.body) == ""


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_response_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    answer = golden["answer"]
    reranked = bedrock.parse(
        validate_rerank(golden["cohere"]),
        RawResponse(
            answer["status"], httpx.Headers(answer["headers"]), json.dumps(answer["body"]).encode()
        ),
    )
    assert [list(pair) for pair in reranked.scores] == golden["expected"]["scores"]
    assert reranked.search_units == golden["expected"]["search_units"]
    assert reranked.input_tokens == golden["expected"]["input_tokens"]


def test_validator_rejects_a_bad_body() -> None:
    up = bedrock.call(rerank(), target())
    body = json.loads(json.dumps(up.body))
    del body["queries"][0]["type"]
    body["sources"][0]["inlineDocumentSource"]["document"] = "x"
    body["rerankingConfiguration"]["bedrockRerankingConfiguration"]["numberOfResults"] = "2"
    report = botocore_report(body)
    assert "Missing required parameter in queries[0]" in report
    assert 'Unknown parameter in sources[0].inlineDocumentSource: "document"' in report
    assert "numberOfResults" in report


# ---- requests ------------------------------------------------------------------------------


@pytest.mark.parametrize(("top_n", "sent"), [(None, 3), (1, 1), (3, 3), (10, 3)])
def test_number_of_results_is_top_n_at_most_every_document(top_n: int | None, sent: int) -> None:
    up = bedrock.call(rerank(top_n=top_n), target())
    assert (
        up.body["rerankingConfiguration"]["bedrockRerankingConfiguration"]["numberOfResults"]
        == sent
    )


def test_more_than_1000_documents_are_refused() -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        bedrock.call(rerank(documents=["d"] * 1001), target())
    assert caught.value.param == "documents"
    assert bedrock.call(rerank(documents=["d"] * 1000), target())


@pytest.mark.parametrize(
    ("model", "name"),
    [(AMAZON, "max_tokens_per_doc"), (COHERE, "priority"), (COHERE, "made_up")],
)
def test_fields_the_model_does_not_take_are_refused(model: str, name: str) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        bedrock.call(rerank(**{name: 1}), target(model))
    assert caught.value.param == name


def test_object_documents() -> None:
    docs = [{"text": "plain"}, {"text": "t", "id": 1}, {"text": 5}]
    up = bedrock.call(rerank(documents=docs), target())
    sources = [source["inlineDocumentSource"] for source in up.body["sources"]]
    assert sources == [
        {"type": "TEXT", "textDocument": {"text": "plain"}},
        {"type": "JSON", "jsonDocument": {"text": "t", "id": 1}},
        {"type": "JSON", "jsonDocument": {"text": 5}},
    ]


@pytest.mark.parametrize(
    ("model", "region", "arn"),
    [
        (
            COHERE,
            "eu-central-1",
            "arn:aws:bedrock:eu-central-1::foundation-model/cohere.rerank-v3-5:0",
        ),
        (
            AMAZON,
            "cn-north-1",
            "arn:aws-cn:bedrock:cn-north-1::foundation-model/amazon.rerank-v1:0",
        ),
        (
            AMAZON,
            "us-gov-west-1",
            "arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/amazon.rerank-v1:0",
        ),
        (
            "arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0",
            "us-west-2",
            "arn:aws:bedrock:us-west-2::foundation-model/amazon.rerank-v1:0",
        ),
    ],
)
def test_the_model_is_named_by_its_foundation_model_arn(model: str, region: str, arn: str) -> None:
    up = bedrock.call(rerank(), target(model, region=region))
    config = up.body["rerankingConfiguration"]["bedrockRerankingConfiguration"]
    assert config["modelConfiguration"] == {"modelArn": arn}


@pytest.mark.parametrize(
    ("api_base", "url"),
    [
        ("", "https://bedrock-agent-runtime.us-east-1.amazonaws.com/rerank"),
        (
            "https://vpce-1.bedrock-runtime.us-east-1.vpce.amazonaws.com/",
            "https://vpce-1.bedrock-agent-runtime.us-east-1.vpce.amazonaws.com/rerank",
        ),
        ("http://127.0.0.1:4010/", "http://127.0.0.1:4010/rerank"),
    ],
)
def test_url_is_the_agent_runtime_endpoint(api_base: str, url: str) -> None:
    assert bedrock.call(rerank(), target(api_base=api_base)).url == url


def test_api_key_replaces_sigv4() -> None:
    up = bedrock.call(rerank(), target(api_key="k"))
    assert up.headers["authorization"] == "Bearer k"
    assert up.sigv4_region is None


def test_missing_region_is_a_config_error() -> None:
    with pytest.raises(errors.InternalError):
        bedrock.call(rerank(), target(region=None, api_base="http://127.0.0.1:1"))


# ---- answers -------------------------------------------------------------------------------


@pytest.mark.parametrize(("documents", "units"), [(1, 1), (100, 1), (101, 2), (250, 3), (1000, 10)])
def test_search_units_are_queries_of_100_documents(documents: int, units: int) -> None:
    request = rerank(documents=["d"] * documents)
    reranked = bedrock.parse(request, raw({"results": [{"index": 0, "relevanceScore": 0.5}]}))
    assert reranked.search_units == units
    assert reranked.input_tokens == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"results": {}},
        {"results": [{"index": 3, "relevanceScore": 0.1}]},
        {"results": [{"index": -1, "relevanceScore": 0.1}]},
        {"results": [{"index": True, "relevanceScore": 0.1}]},
        {"results": [{"index": 0, "relevance_score": 0.1}]},
        {"results": [{"index": 0, "relevanceScore": "high"}]},
        {"results": ["x"]},
    ],
)
def test_malformed_answers_are_upstream_errors(body: Any) -> None:
    with pytest.raises(errors.UpstreamError):
        bedrock.parse(rerank(), raw(body))

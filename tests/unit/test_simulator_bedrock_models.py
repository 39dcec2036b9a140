"""The simulator's Bedrock embedding models (InvokeModel) and Rerank API, and the gateway's
Bedrock embeddings and rerank wires driven against them end to end.

Answers are read by botocore (bedrock-runtime's InvokeModel, bedrock-agent-runtime's
Rerank) as well as by plain HTTP; the end-to-end tests send what the wires' `calls` /
`call` build (unsigned: the simulator takes any SigV4-looking authorization) and check
that `parse` reads back the simulator's deterministic vectors, scores and token counts.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from gateway.embeddings import bedrock as embeddings_wire
from gateway.embeddings.request import validate_embeddings
from gateway.embeddings.vectors import decode
from gateway.local.simulator.cohere_rerank import ranking, relevance
from gateway.local.simulator.openai_embeddings import vector_for
from gateway.local.simulator.scenario import count_tokens
from gateway.providers.spec import Target
from gateway.providers.transport import RawResponse
from gateway.rerank import bedrock as rerank_wire
from gateway.rerank.request import validate_rerank

if TYPE_CHECKING:
    import httpx

    from gateway.local.simulator import SimulatorApp
    from gateway.providers.spec import UpstreamRequest

AUTH = {"authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/bedrock"}
TITAN = "amazon.titan-embed-text-v2:0"
TITAN_V1 = "amazon.titan-embed-text-v1"
COHERE_V3 = "cohere.embed-english-v3"
COHERE_V4 = "cohere.embed-v4:0"
NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"
COHERE_RERANK_ARN = "arn:aws:bedrock:us-east-1::foundation-model/cohere.rerank-v3-5:0"


def invoke(http: httpx.Client, model: str, body: object, **headers: str) -> httpx.Response:
    path = f"/model/{quote(model, safe='')}/invoke"
    return http.post(path, content=json.dumps(body), headers={**AUTH, **headers})


def rerank_body(query: str, documents: list[Any], **config: Any) -> dict[str, Any]:
    sources = [
        {
            "type": "INLINE",
            "inlineDocumentSource": (
                {"type": "TEXT", "textDocument": {"text": doc}}
                if isinstance(doc, str)
                else {"type": "JSON", "jsonDocument": doc}
            ),
        }
        for doc in documents
    ]
    bedrock = {"modelConfiguration": {"modelArn": COHERE_RERANK_ARN}, **config}
    return {
        "queries": [{"type": "TEXT", "textQuery": {"text": query}}],
        "sources": sources,
        "rerankingConfiguration": {
            "type": "BEDROCK_RERANKING_MODEL",
            "bedrockRerankingConfiguration": bedrock,
        },
    }


def client(service: str, endpoint: str) -> Any:
    return botocore.session.get_session().create_client(
        service,
        region_name="us-east-1",
        endpoint_url=endpoint,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def tokens(*texts: str) -> int:
    return max(1, sum(count_tokens(text) for text in texts))


# ---- embedding models on InvokeModel -------------------------------------------------------


def test_titan_v2_answers_the_documented_body_and_headers(http: httpx.Client) -> None:
    answer = invoke(http, TITAN, {"inputText": "hello big world", "dimensions": 256})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    vector = vector_for(TITAN, "hello big world", 256)
    assert body == {
        "embedding": vector,
        "inputTextTokenCount": tokens("hello big world"),
        "embeddingsByType": {"float": vector},
    }
    assert answer.headers["x-amzn-bedrock-input-token-count"] == str(tokens("hello big world"))
    assert answer.headers["x-amzn-bedrock-invocation-latency"].isdigit()
    assert answer.headers["x-amzn-requestid"]


def test_titan_v1_has_no_dimensions_and_1536_floats(http: httpx.Client) -> None:
    body = invoke(http, TITAN_V1, {"inputText": "hi"}).json()
    assert set(body) == {"embedding", "inputTextTokenCount"}
    assert len(body["embedding"]) == 1536
    refused = invoke(http, TITAN_V1, {"inputText": "hi", "dimensions": 256})
    assert refused.status_code == 400
    assert refused.headers["x-amzn-errortype"] == "ValidationException"
    assert "extraneous key [dimensions]" in refused.json()["message"]


def test_cohere_answers_floats_or_by_type(http: httpx.Client) -> None:
    texts = ["hello world", "this is a test"]
    plain = invoke(http, COHERE_V3, {"texts": texts, "input_type": "search_document"}).json()
    assert plain["response_type"] == "embeddings_floats"
    assert plain["texts"] == texts
    assert plain["embeddings"] == [vector_for(COHERE_V3, text, 1024) for text in texts]
    typed = invoke(
        http,
        COHERE_V3,
        {"texts": texts, "input_type": "search_query", "embedding_types": ["float", "int8"]},
    ).json()
    assert typed["response_type"] == "embeddings_by_type"
    assert typed["embeddings"]["float"] == plain["embeddings"]
    assert all(-128 <= v <= 127 for row in typed["embeddings"]["int8"] for v in row)


def test_cohere_v4_output_dimension(http: httpx.Client) -> None:
    body = {"texts": ["a b"], "input_type": "clustering", "output_dimension": 256}
    answer = invoke(http, COHERE_V4, body).json()
    assert answer["embeddings"] == [vector_for(COHERE_V4, "a b", 256)]


def test_nova_answers_one_text_embedding(http: httpx.Client) -> None:
    body = {
        "schemaVersion": "nova-multimodal-embed-v1",
        "taskType": "SINGLE_EMBEDDING",
        "singleEmbeddingParams": {
            "embeddingPurpose": "GENERIC_INDEX",
            "embeddingDimension": 384,
            "text": {"truncationMode": "END", "value": "Hello World!"},
        },
    }
    answer = invoke(http, NOVA, body)
    assert answer.json() == {
        "embeddings": [
            {"embeddingType": "TEXT", "embedding": vector_for(NOVA, "Hello World!", 384)}
        ]
    }
    assert answer.headers["x-amzn-bedrock-input-token-count"] == str(tokens("Hello World!"))


def test_a_cross_region_id_embeds_as_its_model(http: httpx.Client) -> None:
    body = {"texts": ["x"], "input_type": "search_query"}
    assert invoke(http, f"us.{COHERE_V4}", body).json()["embeddings"] == [
        vector_for(COHERE_V4, "x", 1536)
    ]


NOVA_TEXT = {"truncationMode": "END", "value": "x"}


@pytest.mark.parametrize(
    ("model", "body", "fragment"),
    [
        (TITAN, {}, "required key [inputText] not found"),
        (TITAN, {"inputText": 5}, "expected type: String, found: Integer"),
        (TITAN, {"inputText": "x", "dimensions": 384}, "#/dimensions: 384 is not a valid enum"),
        (COHERE_V3, {"texts": ["x"]}, "required key [input_type] not found"),
        (COHERE_V3, {"texts": ["x"] * 97, "input_type": "clustering"}, "expected maxItems: 96"),
        (COHERE_V3, {"texts": ["x"], "input_type": "c", "output_dimension": 256}, "extraneous"),
        (COHERE_V4, {"texts": ["x"], "input_type": "search_query", "truncate": "END"}, "truncate"),
        (NOVA, {"taskType": "SINGLE_EMBEDDING"}, "required key [singleEmbeddingParams]"),
        (
            NOVA,
            {"taskType": "SINGLE_EMBEDDING", "singleEmbeddingParams": {"text": NOVA_TEXT}},
            "required key [embeddingPurpose]",
        ),
        (
            NOVA,
            {
                "taskType": "SEGMENTED_EMBEDDING",
                "singleEmbeddingParams": {"embeddingPurpose": "GENERIC_INDEX", "text": NOVA_TEXT},
            },
            "#/taskType",
        ),
        ("amazon.titan-embed-text-v9", {"inputText": "x"}, "model identifier is invalid"),
    ],
)
def test_bad_bodies_are_validation_exceptions(
    http: httpx.Client, model: str, body: dict[str, Any], fragment: str
) -> None:
    answer = invoke(http, model, body)
    assert answer.status_code == 400
    assert answer.headers["x-amzn-errortype"] == "ValidationException"
    assert fragment in answer.json()["message"]


def test_no_authorization_is_refused(http: httpx.Client) -> None:
    answer = http.post(f"/model/{TITAN}/invoke", json={"inputText": "x"})
    assert answer.status_code == 403


def test_faults_by_header_and_marker(http: httpx.Client) -> None:
    throttled = invoke(http, TITAN, {"inputText": "x"}, **{"x-sim-fault": "429"})
    assert throttled.status_code == 429
    assert throttled.headers["x-amzn-errortype"] == "ThrottlingException"
    marked = invoke(http, COHERE_V3, {"texts": ["a [sim-fault:500]"], "input_type": "clustering"})
    assert marked.status_code == 500


def test_claude_still_answers_invoke(http: httpx.Client) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "hi"}],
    }
    answer = invoke(http, "us.anthropic.claude-3-5-haiku-20241022-v1:0", body)
    assert answer.status_code == 200
    assert answer.json()["type"] == "message"


def test_botocore_reads_an_embedding_answer(base: str) -> None:
    runtime = client("bedrock-runtime", base)
    answer = runtime.invoke_model(modelId=TITAN, body=json.dumps({"inputText": "hi"}))
    assert json.loads(answer["body"].read())["embedding"] == vector_for(TITAN, "hi", 1024)
    with pytest.raises(ClientError) as caught:
        runtime.invoke_model(modelId=TITAN, body=json.dumps({"inputText": "hi", "x": 1}))
    assert caught.value.response["Error"]["Code"] == "ValidationException"


# ---- the Rerank API ----------------------------------------------------------------------------


def test_rerank_orders_by_the_documented_relevance(http: httpx.Client) -> None:
    query = "capital of the United States"
    docs = ["Paris is in France", "Washington is the capital of the United States", "capital"]
    answer = http.post("/rerank", json=rerank_body(query, docs), headers=AUTH)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["index"] for r in results] == [1, 2, 0]
    assert [r["relevanceScore"] for r in results] == [relevance(query, docs[i]) for i in (1, 2, 0)]


def test_other_rerank_bodies_still_go_to_cohere(http: httpx.Client) -> None:
    body = {"model": "rerank-v3.5", "query": "capital", "documents": ["capital", "x"]}
    answer = http.post("/rerank", json=body, headers={"authorization": "Bearer k"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["results"][0]["relevance_score"] == relevance("capital", "capital")


def test_botocore_reads_a_rerank_answer(base: str) -> None:
    agent = client("bedrock-agent-runtime", base)
    body = rerank_body("refund", ["refund in 30 days", {"title": "refund"}, "shipping"])
    body["rerankingConfiguration"]["bedrockRerankingConfiguration"]["numberOfResults"] = 2
    answer = agent.rerank(**body)
    assert [r["index"] for r in answer["results"]] in ([0, 1], [1, 0])
    assert all(isinstance(r["relevanceScore"], float) for r in answer["results"])


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda b: b["queries"].append(b["queries"][0]), "at 'queries'"),
        (lambda b: b.pop("sources"), "Value null at 'sources'"),
        (lambda b: b.pop("rerankingConfiguration"), "at 'rerankingConfiguration'"),
        (lambda b: b["sources"][0].update(type="S3"), "sources.1.member.type"),
        (
            lambda b: b["rerankingConfiguration"]["bedrockRerankingConfiguration"].update(
                numberOfResults=0
            ),
            "numberOfResults",
        ),
        (
            lambda b: b["rerankingConfiguration"]["bedrockRerankingConfiguration"][
                "modelConfiguration"
            ].update(modelArn="cohere.command-r-v1:0"),
            "model identifier is invalid",
        ),
    ],
)
def test_bad_rerank_bodies_are_validation_exceptions(
    http: httpx.Client, change: Any, fragment: str
) -> None:
    body = rerank_body("q", ["a", "b"])
    change(body)
    answer = http.post("/rerank", json=body, headers=AUTH)
    assert answer.status_code == 400
    assert answer.headers["x-amzn-errortype"] == "ValidationException"
    assert fragment in answer.json()["message"]


def test_rerank_faults_by_url_prefix(http: httpx.Client, sim: SimulatorApp) -> None:
    body = rerank_body("q", ["a"])
    faulted = http.post("/_fault/503,times=1/rerank", json=body, headers=AUTH)
    assert faulted.status_code == 503
    assert http.post("/_fault/503,times=1/rerank", json=body, headers=AUTH).status_code == 200
    assert [r["path"] for r in sim.requests][-1] == "/_fault/503,times=1/rerank"


# ---- the gateway's wires, end to end -------------------------------------------------------


def send(http: httpx.Client, up: UpstreamRequest) -> RawResponse:
    answer = http.post(up.url, content=json.dumps(up.body), headers={**up.headers, **AUTH})
    assert answer.status_code == 200, answer.text
    return RawResponse(answer.status_code, answer.headers, answer.content)


def deployment(base: str, model: str) -> Target:
    return Target(
        model_name="m",
        provider="bedrock",
        dialect="bedrock",
        model=model,
        api_base=base,
        region="us-east-1",
    )


@pytest.mark.parametrize(
    ("model", "extra", "dimensions"),
    [
        (TITAN, {"dimensions": 512}, 512),
        (TITAN_V1, {}, 1536),
        (COHERE_V3, {"input_type": "search_query"}, 1024),
        (COHERE_V4, {"dimensions": 256}, 256),
        (f"us.{COHERE_V4}", {}, 1536),
        (NOVA, {"dimensions": 1024, "embeddingPurpose": "CLUSTERING"}, 1024),
    ],
)
@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_embeddings_wire_round_trip(
    http: httpx.Client, base: str, model: str, extra: dict[str, Any], dimensions: int, encoding: str
) -> None:
    texts = [f"text number {index}" for index in range(100)]
    request = validate_embeddings(
        {"model": "m", "input": texts, "encoding_format": encoding, **extra}
    )
    upstreams = embeddings_wire.calls(request, deployment(base, model))
    embedded = embeddings_wire.parse(request, [send(http, up) for up in upstreams])
    family = model.removeprefix("us.")
    expected = [vector_for(family, text, dimensions) for text in texts]
    if encoding == "base64":
        assert [decode(e) for e in embedded.embeddings if isinstance(e, str)] == expected
    else:
        assert embedded.embeddings == expected
    if model.startswith(("cohere", "us.cohere")):
        assert len(upstreams) == 2  # 96 + 4
        assert embedded.input_tokens == tokens(*texts[:96]) + tokens(*texts[96:])
    else:
        assert len(upstreams) == 100
        assert embedded.input_tokens == sum(tokens(text) for text in texts)


@pytest.mark.parametrize("model", ["cohere.rerank-v3-5:0", "amazon.rerank-v1:0"])
def test_rerank_wire_round_trip(http: httpx.Client, base: str, model: str) -> None:
    query = "refund policy for returns"
    documents: list[Any] = [
        "Shipping takes five business days.",
        {"text": "Refunds follow our returns policy."},
        {"title": "Returns", "body": "A refund policy applies to returns within 30 days."},
        "Nothing here.",
    ]
    request = validate_rerank({"model": "m", "query": query, "documents": documents, "top_n": 3})
    up = rerank_wire.call(request, deployment(base, model))
    reranked = rerank_wire.parse(request, send(http, up))
    expected = ranking(query, _scored_texts(request), 3)
    assert reranked.scores == expected
    assert reranked.search_units == 1


def _scored_texts(request: Any) -> list[str]:
    """What the simulator scores: a TEXT document's text, a JSON one's sorted JSON."""
    out = []
    for document in request.documents:
        if isinstance(document, dict) and set(document) != {"text"}:
            out.append(json.dumps(document, sort_keys=True, ensure_ascii=False))
        else:
            out.append(document if isinstance(document, str) else document["text"])
    return out

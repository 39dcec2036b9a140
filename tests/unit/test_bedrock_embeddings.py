"""The Bedrock embeddings wire (gateway/embeddings/bedrock.py) against golden files.

Each `<case>.request.json` holds the client's body, the deployment and the InvokeModel
calls expected (URL, body, SigV4 region); each `<case>.response.json` holds Bedrock's
answers (body and headers) and what the wire reads from them. Bodies follow the Bedrock
user guide's pages for Titan, Cohere Embed v3/v4 and Nova Multimodal Embeddings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway import errors
from gateway.embeddings import bedrock
from gateway.embeddings.request import validate_embeddings
from gateway.providers.spec import Target
from gateway.providers.transport import RawResponse

FIXTURES = Path(__file__).parent.parent / "fixtures" / "bedrock_embeddings"
REQUEST_CASES = sorted(
    p.name.removesuffix(".request.json") for p in FIXTURES.glob("*.request.json")
)
RESPONSE_CASES = sorted(
    p.name.removesuffix(".response.json") for p in FIXTURES.glob("*.response.json")
)
TITAN = "amazon.titan-embed-text-v2:0"
TITAN_V1 = "amazon.titan-embed-text-v1"
COHERE_V3 = "cohere.embed-multilingual-v3"
COHERE_V4 = "cohere.embed-v4:0"
NOVA = "amazon.nova-2-multimodal-embeddings-v1:0"
ALL_MODELS = [TITAN, TITAN_V1, COHERE_V3, COHERE_V4, NOVA]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def target(model: str, **kwargs: Any) -> Target:
    fields: dict[str, Any] = {"region": "us-east-1", "api_base": ""} | kwargs
    return Target(model_name="emb", provider="bedrock", dialect="bedrock", model=model, **fields)


def embeddings(**body: Any) -> Any:
    return validate_embeddings({"model": "emb", "input": "hello", **body})


def raw(body: object, headers: dict[str, str] | None = None) -> RawResponse:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return RawResponse(200, httpx.Headers(headers or {}), content)


def cohere_answer(count: int, tokens: int | None = None) -> RawResponse:
    vectors = [[float(index), 0.5] for index in range(count)]
    headers = {} if tokens is None else {bedrock.COUNT_HEADER: str(tokens)}
    body = {"id": "x", "texts": [], "embeddings": vectors, "response_type": "embeddings_floats"}
    return raw(body, headers)


# ---- golden files ----------------------------------------------------------------------


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request_golden(case: str) -> None:
    golden = load(f"{case}.request.json")
    upstreams = bedrock.calls(validate_embeddings(golden["openai"]), target(**golden["target"]))
    got = [
        {
            "url": up.url,
            "body": up.body,
            "sigv4_region": up.sigv4_region,
            "dropped_params": list(up.dropped_params),
        }
        for up in upstreams
    ]
    assert got == golden["bedrock"]
    for up in upstreams:
        assert up.headers == {"content-type": "application/json", "accept": "application/json"}
        assert not up.stream


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_response_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    answers = [raw(answer["body"], answer["headers"]) for answer in golden["answers"]]
    embedded = bedrock.parse(validate_embeddings(golden["openai"]), answers)
    assert embedded.embeddings == golden["expected"]["embeddings"]
    assert embedded.input_tokens == golden["expected"]["input_tokens"]


def test_every_family_has_golden_files() -> None:
    families = {
        bedrock.family(load(f"{case}.request.json")["target"]["model"]) for case in REQUEST_CASES
    }
    assert families == {"titan-v1", "titan-v2", "cohere-v3", "cohere-v4", "nova"}
    assert set(RESPONSE_CASES) == set(REQUEST_CASES)


# ---- requests ------------------------------------------------------------------------------


def test_cohere_splits_into_calls_of_96_in_order() -> None:
    texts = [f"text {index}" for index in range(200)]
    upstreams = bedrock.calls(embeddings(input=texts), target(COHERE_V3))
    assert [len(up.body["texts"]) for up in upstreams] == [96, 96, 8]
    assert [t for up in upstreams for t in up.body["texts"]] == texts
    answers = [cohere_answer(96, 10), cohere_answer(96, 11), cohere_answer(8, 2)]
    embedded = bedrock.parse(embeddings(input=texts), answers)
    assert len(embedded.embeddings) == 200
    assert embedded.embeddings[96] == [0.0, 0.5]  # the second call's first vector
    assert embedded.input_tokens == 23


@pytest.mark.parametrize("model", [TITAN, TITAN_V1, NOVA])
def test_one_call_per_text(model: str) -> None:
    upstreams = bedrock.calls(embeddings(input=["a", "b", "c"]), target(model))
    assert len(upstreams) == 3


@pytest.mark.parametrize("model", ALL_MODELS)
def test_token_arrays_are_refused_naming_the_model(model: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        bedrock.calls(embeddings(input=["text", [1, 2, 3]]), target(model))
    assert caught.value.param == "input"
    assert "'emb'" in caught.value.message


@pytest.mark.parametrize("model", [TITAN_V1, COHERE_V3, "cohere.embed-english-v3"])
def test_models_without_a_dimension_control_refuse_dimensions(model: str) -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        bedrock.calls(embeddings(dimensions=1024), target(model))
    assert caught.value.param == "dimensions"


@pytest.mark.parametrize(
    ("model", "good", "bad"),
    [(TITAN, 256, 384), (COHERE_V4, 1536, 3072), (NOVA, 384, 512)],
)
def test_dimensions_take_the_documented_values(model: str, good: int, bad: int) -> None:
    assert bedrock.calls(embeddings(dimensions=good), target(model))
    with pytest.raises(errors.InvalidRequestError) as caught:
        bedrock.calls(embeddings(dimensions=bad), target(model))
    assert caught.value.param == "dimensions"


@pytest.mark.parametrize(
    ("model", "name", "value"),
    [
        (TITAN, "input_type", "search_query"),
        (TITAN_V1, "normalize", False),
        (COHERE_V4, "embeddingPurpose", "GENERIC_INDEX"),
        (NOVA, "input_type", "search_query"),
        (COHERE_V3, "embedding_types", ["int8"]),
    ],
)
def test_fields_the_model_does_not_take_are_refused(model: str, name: str, value: Any) -> None:
    with pytest.raises(errors.UnsupportedParameterError) as caught:
        bedrock.calls(embeddings(**{name: value}), target(model))
    assert caught.value.param == name


@pytest.mark.parametrize(
    ("model", "name", "value"),
    [
        (COHERE_V4, "input_type", "image"),
        (COHERE_V4, "truncate", "END"),  # v4 says LEFT/RIGHT
        (COHERE_V3, "truncate", "RIGHT"),
        (NOVA, "embeddingPurpose", "generic_index"),
        (TITAN, "normalize", "yes"),
    ],
)
def test_field_values_outside_the_documented_set_are_refused(
    model: str, name: str, value: Any
) -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        bedrock.calls(embeddings(**{name: value}), target(model))
    assert caught.value.param == name


def test_titan_normalize_and_nova_truncation_can_be_chosen() -> None:
    (titan,) = bedrock.calls(embeddings(normalize=False), target(TITAN))
    assert titan.body == {"inputText": "hello", "normalize": False}
    (nova,) = bedrock.calls(embeddings(truncationMode="NONE"), target(NOVA))
    assert nova.body["singleEmbeddingParams"] == {
        "embeddingPurpose": "GENERIC_INDEX",
        "text": {"truncationMode": "NONE", "value": "hello"},
    }


def test_an_unmapped_bedrock_model_is_refused() -> None:
    with pytest.raises(errors.InvalidRequestError) as caught:
        bedrock.calls(embeddings(), target("cohere.embed-v9:0"))
    assert caught.value.param == "model"


def test_api_key_replaces_sigv4_and_api_base_is_used() -> None:
    base = "https://vpce-1.bedrock-runtime.eu-west-1.vpce.amazonaws.com/"
    (up,) = bedrock.calls(embeddings(), target(TITAN, api_base=base, api_key="k", region=None))
    assert up.url == f"{base.rstrip('/')}/model/amazon.titan-embed-text-v2%3A0/invoke"
    assert up.headers["authorization"] == "Bearer k"
    assert up.sigv4_region is None


def test_missing_region_is_a_config_error() -> None:
    with pytest.raises(errors.InternalError):
        bedrock.calls(embeddings(), target(TITAN, region=None))


# ---- answers -------------------------------------------------------------------------------


def test_a_missing_token_header_is_charged_an_estimate() -> None:
    request = embeddings(input=["abcdefgh", "abcd"])
    embedded = bedrock.parse(request, [cohere_answer(2)])
    assert embedded.input_tokens == 3  # one token per four bytes, rounded up per text


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        [1, 2],
        {"results": []},
        {"embedding": [0.1, "x"], "inputTextTokenCount": 1},
        {"embedding": [0.1], "inputTextTokenCount": True},
        {"embedding": [0.1]},
        {"embedding": [], "inputTextTokenCount": 1},
        {"embeddings": {"int8": [[1, 2]]}, "response_type": "embeddings_by_type"},
        {"embeddings": [{"embeddingType": "TEXT"}]},
        {"embeddings": [[0.1], [0.2]], "response_type": "embeddings_floats"},  # two for one
    ],
)
def test_malformed_answers_are_upstream_errors(body: Any) -> None:
    with pytest.raises(errors.UpstreamError):
        bedrock.parse(embeddings(), [raw(body, {bedrock.COUNT_HEADER: "1"})])

"""The simulator's OpenAI embeddings API (``/v1/embeddings``), read by the openai SDK.

Bodies sent and answered are validated against OpenAI's OpenAPI schema
(``tests/openapi.py``), which types an embedding as floats only: base64 answers are
checked by decoding them. The SDK asks for base64 when the caller names no encoding and
decodes it itself, so every encoding must reach the caller as the same floats.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import TYPE_CHECKING, Any

import openai
import pytest

from gateway.local.simulator.openai_embeddings import vector_for
from gateway.local.simulator.scenario import count_tokens
from openapi import validate

if TYPE_CHECKING:
    import httpx

    from gateway.local.simulator import SimulatorApp

OPENAI_KEY = "sk-sim-openai-0123456789abcdef"
AUTH = {"authorization": f"Bearer {OPENAI_KEY}"}
SMALL = "text-embedding-3-small"


def embed(http: httpx.Client, body: dict[str, Any], path: str = "/v1/embeddings") -> Any:
    validate("CreateEmbeddingRequest", body)
    answer = http.post(path, json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    if body.get("encoding_format") != "base64":  # the schema types embeddings as floats only
        validate("CreateEmbeddingResponse", answer.json())
    return answer.json()


@pytest.mark.parametrize("path", ["/v1/embeddings", "/embeddings"])
def test_a_list_of_strings_keeps_its_order(http: httpx.Client, path: str) -> None:
    texts = ["hello world", "the quick brown fox", "hello world"]
    answer = embed(http, {"model": SMALL, "input": texts}, path)
    assert answer["object"] == "list"
    assert answer["model"] == SMALL
    assert [item["index"] for item in answer["data"]] == [0, 1, 2]
    vectors = [item["embedding"] for item in answer["data"]]
    assert vectors[0] == vectors[2] != vectors[1]  # equal inputs embed equally
    assert vectors[1] == vector_for(SMALL, texts[1], 1536)
    assert all(len(v) == 1536 for v in vectors)
    assert math.isclose(sum(x * x for x in vectors[0]), 1.0, rel_tol=1e-5)
    tokens = sum(count_tokens(text) for text in texts)
    assert answer["usage"] == {"prompt_tokens": tokens, "total_tokens": tokens}


def test_token_arrays_count_as_their_length(http: httpx.Client) -> None:
    one = embed(http, {"model": SMALL, "input": [1, 2, 3]})
    two = embed(http, {"model": SMALL, "input": [[1, 2, 3], [4, 5]]})
    assert len(one["data"]) == 1
    assert one["data"][0]["embedding"] == two["data"][0]["embedding"]
    assert two["usage"]["prompt_tokens"] == 5


def test_base64_is_the_float32_little_endian_vector(http: httpx.Client) -> None:
    body = {"model": SMALL, "input": "hello world", "dimensions": 8}
    floats = embed(http, body)["data"][0]["embedding"]
    packed = embed(http, body | {"encoding_format": "base64"})["data"][0]["embedding"]
    assert isinstance(packed, str)
    assert list(struct.unpack("<8f", base64.b64decode(packed))) == floats


@pytest.mark.parametrize("encoding", ["float", "base64", None])
def test_the_sdk_reads_both_encodings_as_the_same_floats(
    oai: openai.OpenAI, encoding: str | None
) -> None:
    extra: dict[str, Any] = {"encoding_format": encoding} if encoding else {}
    answer = oai.embeddings.create(model=SMALL, input=["a b", "c d e"], dimensions=64, **extra)
    got = [
        list(struct.unpack("<64f", base64.b64decode(item.embedding)))
        if isinstance(item.embedding, str)  # asked for base64: the SDK leaves it as sent
        else item.embedding
        for item in answer.data
    ]
    assert got == [vector_for(SMALL, text, 64) for text in ("a b", "c d e")]
    assert answer.usage.prompt_tokens == count_tokens("a b") + count_tokens("c d e")


def test_model_dimensions() -> None:
    assert len(vector_for("text-embedding-3-large", "x", 3072)) == 3072


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": SMALL, "input": ""}, "input"),
        ({"model": SMALL, "input": []}, "input"),
        ({"model": SMALL, "input": ["ok", ""]}, "input"),
        ({"model": SMALL, "input": [["x"]]}, "input"),
        ({"model": SMALL}, "input"),
        ({"input": "hi"}, "model"),
        ({"model": SMALL, "input": "hi", "encoding_format": "int8"}, "encoding_format"),
        ({"model": SMALL, "input": "hi", "dimensions": 0}, "dimensions"),
        ({"model": SMALL, "input": "hi", "dimensions": 1537}, "dimensions"),
        ({"model": "text-embedding-ada-002", "input": "hi", "dimensions": 8}, "dimensions"),
    ],
)
def test_bad_bodies_are_openai_400s(http: httpx.Client, body: dict[str, Any], param: str) -> None:
    answer = http.post("/v1/embeddings", json=body, headers=AUTH)
    assert answer.status_code == 400
    validate("ErrorResponse", answer.json())
    error = answer.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


def test_no_key_is_refused(http: httpx.Client) -> None:
    answer = http.post("/v1/embeddings", json={"model": SMALL, "input": "hi"})
    assert answer.status_code == 401


def test_faults_by_url_prefix(base: str, sim: SimulatorApp) -> None:
    faulted = openai.OpenAI(
        base_url=f"{base}/_fault/429,times=1/v1", api_key=OPENAI_KEY, max_retries=0
    )
    with pytest.raises(openai.RateLimitError):
        faulted.embeddings.create(model=SMALL, input="hi")
    assert len(faulted.embeddings.create(model=SMALL, input="hi").data) == 1
    assert [r["path"] for r in sim.requests] == ["/_fault/429,times=1/v1/embeddings"] * 2

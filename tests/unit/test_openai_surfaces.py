"""The OpenAI-compatible wires of embeddings and legacy completions, and the legacy
completions request: what goes upstream, and what comes back."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from gateway.embeddings import openai as wire
from gateway.embeddings import vectors
from gateway.embeddings.request import validate_embeddings
from gateway.errors import InvalidRequestError, UpstreamError
from gateway.providers.spec import ResponseMeta, Target
from gateway.providers.transport import RawResponse
from gateway.text_completions.passthrough import TextSpeaker
from gateway.text_completions.request import validate_completions

TARGET = Target(
    model_name="emb",
    provider="hosted_vllm",
    dialect="openai",
    model="bge-m3",
    api_base="http://vllm:8000/v1/",
    api_key="sk-up",
)


def raw(body: Any) -> RawResponse:
    return RawResponse(200, httpx.Headers(), json.dumps(body).encode())


def test_embeddings_go_as_sent_with_the_deployment_model() -> None:
    request = validate_embeddings(
        {
            "model": "emb",
            "input": "one",
            "dimensions": 8,
            "user": "u",
            "input_type": "query",
            "metadata": {"tags": ["t"]},
        }
    )
    (call,) = wire.calls(request, TARGET)
    assert call.url == "http://vllm:8000/v1/embeddings"
    assert call.headers["authorization"] == "Bearer sk-up"
    assert call.body == {
        "input_type": "query",
        "model": "bge-m3",
        "input": "one",
        "encoding_format": "float",
        "dimensions": 8,
        "user": "u",
    }
    tokens = validate_embeddings({"model": "emb", "input": [[1, 2], [3]]})
    assert wire.calls(tokens, TARGET)[0].body["input"] == [[1, 2], [3]]
    assert wire.url("http://x/v1/embeddings") == "http://x/v1/embeddings"


def test_answers_are_ordered_and_encoded_as_asked_whatever_the_vendor_sent() -> None:
    floats = [[0.5, -0.25], [1.0, 0.0]]
    answer = {
        "data": [
            {"index": 1, "embedding": vectors.encode(floats[1], "base64")},
            {"index": 0, "embedding": floats[0]},
        ],
        "usage": {"prompt_tokens": 7, "total_tokens": 7},
    }
    as_float = validate_embeddings({"model": "emb", "input": ["a", "b"]})
    got = wire.parse(as_float, [raw(answer)])
    assert got.embeddings == floats
    assert got.input_tokens == 7
    as_base64 = validate_embeddings(
        {"model": "emb", "input": ["a", "b"], "encoding_format": "base64"}
    )
    encoded = wire.parse(as_base64, [raw(answer)]).embeddings
    assert [vectors.decode(e) for e in encoded if isinstance(e, str)] == floats


def test_a_vendor_without_usage_is_charged_an_estimate_not_nothing() -> None:
    request = validate_embeddings({"model": "emb", "input": ["abcdefgh", [1, 2, 3]]})
    answer = {"data": [{"index": 0, "embedding": [0.1]}, {"index": 1, "embedding": [0.2]}]}
    assert wire.parse(request, [raw(answer)]).input_tokens == 2 + 3


@pytest.mark.parametrize(
    "answer",
    [{"data": [{"index": 0, "embedding": [0.1]}]}, {"data": "nope"}, {"data": [{"index": 0}]}],
)
def test_a_malformed_answer_is_an_upstream_error(answer: Any) -> None:
    request = validate_embeddings({"model": "emb", "input": ["a", "b"]})
    with pytest.raises(UpstreamError):
        wire.parse(request, [raw(answer)])


def test_completion_passthrough_asks_a_stream_for_usage_and_brands_the_answer() -> None:
    body = {"model": "instruct", "prompt": ["a", "b"], "echo": True, "stream": True}
    parsed = validate_completions(dict(body))
    upstream = TextSpeaker(parsed.body).build_request(parsed.chat, TARGET)
    assert upstream.url == "http://vllm:8000/v1/completions"
    assert upstream.stream
    assert upstream.body == {**body, "model": "bge-m3", "stream_options": {"include_usage": True}}
    answer = {
        "id": "cmpl-up",
        "object": "text_completion",
        "created": 1,
        "model": "up",
        "choices": [{"text": "hi", "index": 0, "logprobs": None, "finish_reason": "eos"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }
    meta = ResponseMeta("cmpl-gw", 9, "instruct")
    done = TextSpeaker(parsed.body).parse_response(json.dumps(answer).encode(), meta)
    assert done.response["id"] == "cmpl-gw"
    assert done.response["model"] == "instruct"
    assert done.response["choices"][0]["finish_reason"] == "stop"
    assert (done.usage.input_tokens, done.usage.output_tokens) == (3, 1)
    with pytest.raises(UpstreamError):
        TextSpeaker(parsed.body).parse_response(b'{"choices": [{"index": 0}]}', meta)


def test_the_chat_view_counts_every_completion_billed_and_defaults_max_tokens() -> None:
    one = validate_completions({"model": "m", "prompt": "hello"})
    assert one.chat.max_tokens == 16
    assert one.chat.n is None
    assert one.chat.messages[0].content == "hello"
    assert one.untranslatable() is None
    many = validate_completions({"model": "m", "prompt": ["a", "b"], "n": 2, "best_of": 3})
    assert many.chat.n == 6
    assert many.untranslatable() is not None
    unlimited = validate_completions({"model": "m", "prompt": "x", "max_tokens": None})
    assert unlimited.chat.max_tokens is None


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "m"}, "prompt"),
        ({"model": "m", "prompt": []}, "prompt"),
        ({"model": "m", "prompt": [{"a": 1}]}, "prompt"),
        ({"model": "m", "prompt": "x", "n": 0}, "n"),
        ({"model": "m", "prompt": "x", "max_tokens": -1}, "max_tokens"),
        ({"model": "m", "prompt": "x", "echo": "yes"}, "echo"),
        ({"model": "m", "prompt": "x", "temperature": "hot"}, "temperature"),
    ],
)
def test_bad_completion_bodies_name_their_field(body: dict[str, Any], param: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        validate_completions(body)
    assert caught.value.param == param


@pytest.mark.parametrize(
    "body",
    [
        {"message": "list of documents must not be empty"},  # Cohere
        {"object": "error", "message": "list of documents must not be empty", "code": 400},  # vLLM
        {"detail": "list of documents must not be empty"},  # a FastAPI server
    ],
)
def test_a_vendor_message_outside_openai_error_envelope_reaches_the_client(body: Any) -> None:
    from gateway.providers import openai

    error = openai.map_error(400, json.dumps(body).encode(), {})
    assert error.status == 400
    assert error.message.endswith(": list of documents must not be empty")

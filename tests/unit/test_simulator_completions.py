"""The simulator's OpenAI legacy completions API (``/v1/completions``), read by the openai SDK.

Bodies sent and answered are validated against OpenAI's OpenAPI schema (tests/openapi.py);
a stream chunk is checked with its `finish_reason: null` and `usage: null` filled in or left
out, as the schema types a chunk as the whole object (its own streaming example has nulls).
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

import openai
import pytest

from gateway.local.simulator.openai_completions import LOGPROB
from gateway.local.simulator.scenario import count_tokens
from gateway.text_completions.shapes import fold
from openapi import validate

if TYPE_CHECKING:
    import httpx

OPENAI_KEY = "sk-sim-openai-0123456789abcdef"
AUTH = {"authorization": f"Bearer {OPENAI_KEY}"}
INSTRUCT = "gpt-3.5-turbo-instruct"


def valid_chunk(body: dict[str, Any]) -> dict[str, Any]:
    filled = copy.deepcopy(body)
    for choice in filled["choices"]:
        choice["finish_reason"] = choice["finish_reason"] or "stop"
    if filled.get("usage", {}) is None:
        del filled["usage"]
    validate("CreateCompletionResponse", filled)
    return body


def complete(
    http: httpx.Client, body: dict[str, Any], path: str = "/v1/completions"
) -> dict[str, Any]:
    validate("CreateCompletionRequest", body)
    answer = http.post(path, json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    got: dict[str, Any] = answer.json()
    validate("CreateCompletionResponse", got)
    return got


def stream(http: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The data chunks of a streamed answer, checked to end with [DONE]."""
    body = body | {"stream": True}
    validate("CreateCompletionRequest", body)
    answer = http.post("/v1/completions", json=body, headers=AUTH)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    data = [line.removeprefix("data: ") for line in answer.text.split("\n\n") if line]
    assert data[-1] == "[DONE]"
    return [valid_chunk(json.loads(item)) for item in data[:-1]]


@pytest.mark.parametrize("path", ["/v1/completions", "/completions"])
def test_a_prompt_is_echoed_with_chat_counts(http: httpx.Client, path: str) -> None:
    got = complete(http, {"model": INSTRUCT, "prompt": "Say this is a test"}, path)
    assert got["object"] == "text_completion"
    assert got["id"].startswith("cmpl-")
    assert got["model"] == INSTRUCT
    reply = "Echo: Say this is a test"
    assert got["choices"] == [
        {"text": reply, "index": 0, "logprobs": None, "finish_reason": "stop"}
    ]
    prompt, completion = count_tokens("Say this is a test"), count_tokens(reply)
    assert got["usage"] == {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def test_the_sdk_reads_a_completion(oai: openai.OpenAI) -> None:
    # OpenAI's own example: max_tokens 7 stops the answer short ("length").
    got = oai.completions.create(model=INSTRUCT, prompt="Say this is a test", max_tokens=7)
    assert got.choices[0].text == "Echo: Say this is a"
    assert got.choices[0].finish_reason == "length"
    assert got.usage is not None
    assert got.usage.completion_tokens == 7
    whole = oai.completions.create(model=INSTRUCT, prompt="Say this is a test", max_tokens=8)
    assert (whole.choices[0].text, whole.choices[0].finish_reason) == (
        "Echo: Say this is a test",
        "stop",
    )


def test_the_sdk_streams_with_usage(oai: openai.OpenAI) -> None:
    chunks = list(
        oai.completions.create(
            model=INSTRUCT,
            prompt="Say this is a test [sim-chunks:3]",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    texts = [c.choices[0].text for c in chunks if c.choices]
    assert len(texts) == 4  # three runs of words, then the finish with text ""
    assert "".join(texts) == "Echo: Say this is a test"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + count_tokens(
        "Echo: Say this is a test"
    )
    assert all(c.usage is None for c in chunks[:-1])


def test_a_stream_without_usage_has_no_usage(http: httpx.Client) -> None:
    chunks = stream(http, {"model": INSTRUCT, "prompt": "hello"})
    assert all("usage" not in c and c["choices"] for c in chunks)
    assert chunks[-1]["choices"][0] == {
        "text": "",
        "index": 0,
        "logprobs": None,
        "finish_reason": "stop",
    }


@pytest.mark.parametrize("streamed", [False, True])
def test_prompts_times_n_are_numbered_as_openai_does(http: httpx.Client, streamed: bool) -> None:
    body: dict[str, Any] = {"model": INSTRUCT, "prompt": ["one", "two three"], "n": 2}
    if streamed:
        chunks = stream(http, body | {"stream_options": {"include_usage": True}})
        assert all(len(c["choices"]) <= 1 for c in chunks)  # one choice per chunk
        got = fold(chunks)
    else:
        got = complete(http, body)
    texts = [(c["index"], c["text"]) for c in got["choices"]]
    assert texts == [
        (0, "Echo: one"),
        (1, "Echo: one"),
        (2, "Echo: two three"),
        (3, "Echo: two three"),
    ]
    assert got["usage"]["prompt_tokens"] == count_tokens("one") + count_tokens("two three")
    each = [count_tokens("Echo: one")] * 2 + [count_tokens("Echo: two three")] * 2
    assert got["usage"]["completion_tokens"] == sum(each)


@pytest.mark.parametrize("streamed", [False, True])
def test_stream_and_json_say_the_same(http: httpx.Client, streamed: bool) -> None:
    body: dict[str, Any] = {"model": INSTRUCT, "prompt": "a b c d e f", "echo": True, "logprobs": 2}
    whole = complete(http, body)
    got = (
        fold(stream(http, body | {"stream_options": {"include_usage": True}}))
        if streamed
        else whole
    )
    assert got["choices"] == whole["choices"]
    assert got["usage"] == whole["usage"]


def test_token_arrays_are_their_ids_and_count_their_length(http: httpx.Client) -> None:
    got = complete(http, {"model": INSTRUCT, "prompt": [[1212, 318], [257, 1332, 13]]})
    assert [c["text"] for c in got["choices"]] == ["Echo: 1212 318", "Echo: 257 1332 13"]
    assert got["usage"]["prompt_tokens"] == 5
    one = complete(http, {"model": INSTRUCT, "prompt": [1212, 318]})
    assert one["choices"][0]["text"] == "Echo: 1212 318"


def test_max_tokens_defaults_to_16_and_cuts_whole_words(http: httpx.Client) -> None:
    words = " ".join(f"w{i}" for i in range(20))
    got = complete(http, {"model": INSTRUCT, "prompt": words})
    choice = got["choices"][0]
    assert choice["finish_reason"] == "length"
    assert got["usage"]["completion_tokens"] == 16
    assert count_tokens(choice["text"]) <= 16 < count_tokens(choice["text"] + " w99")
    assert f"Echo: {words}".startswith(choice["text"])
    short = complete(http, {"model": INSTRUCT, "prompt": words, "max_tokens": 3})
    assert short["choices"][0]["text"] == "Echo: w0"
    none = complete(http, {"model": INSTRUCT, "prompt": words, "max_tokens": 0})
    assert (none["choices"][0]["text"], none["usage"]["completion_tokens"]) == ("", 0)


def test_stop_cuts_before_the_first_sequence_found(http: httpx.Client) -> None:
    body = {"model": INSTRUCT, "prompt": "red green blue", "stop": ["blue", " green"]}
    got = complete(http, body)
    assert got["choices"][0]["text"] == "Echo: red"
    assert got["choices"][0]["finish_reason"] == "stop"
    assert got["usage"]["completion_tokens"] == count_tokens("Echo: red")


def test_echo_and_logprobs(http: httpx.Client) -> None:
    plain = complete(http, {"model": INSTRUCT, "prompt": "hi there", "logprobs": 0})
    echoed = complete(http, {"model": INSTRUCT, "prompt": "hi there", "logprobs": 1, "echo": True})
    assert echoed["choices"][0]["text"] == "hi thereEcho: hi there"  # as OpenAI concatenates
    assert echoed["usage"] == plain["usage"]
    for got, first in ((plain, len("hi there")), (echoed, 0)):
        choice = got["choices"][0]
        logprobs = choice["logprobs"]
        assert "".join(logprobs["tokens"]) == choice["text"]
        assert logprobs["token_logprobs"] == [LOGPROB] * len(logprobs["tokens"])
        assert logprobs["top_logprobs"] == [{t: LOGPROB} for t in logprobs["tokens"]]
        offsets = [first]
        for token in logprobs["tokens"][:-1]:
            offsets.append(offsets[-1] + len(token))
        assert logprobs["text_offset"] == offsets


def test_suffix_is_for_the_instruct_model_only(http: httpx.Client) -> None:
    complete(http, {"model": INSTRUCT, "prompt": "def f(", "suffix": "return x"})
    answer = http.post(
        "/v1/completions",
        json={"model": "davinci-002", "prompt": "def f(", "suffix": "return x"},
        headers=AUTH,
    )
    assert answer.status_code == 400
    validate("ErrorResponse", answer.json())
    assert answer.json()["error"]["message"] == "Unrecognized request argument supplied: suffix"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": INSTRUCT}, "prompt"),
        ({"prompt": "hi"}, "model"),
        ({"model": INSTRUCT, "prompt": []}, "prompt"),
        ({"model": INSTRUCT, "prompt": [[]]}, "prompt"),
        ({"model": INSTRUCT, "prompt": ["a", [1]]}, "prompt"),
        ({"model": INSTRUCT, "prompt": 5}, "prompt"),
        ({"model": INSTRUCT, "prompt": "hi", "n": 0}, "n"),
        ({"model": INSTRUCT, "prompt": "hi", "n": 129}, "n"),
        ({"model": INSTRUCT, "prompt": "hi", "n": "2"}, "n"),
        ({"model": INSTRUCT, "prompt": "hi", "max_tokens": -1}, "max_tokens"),
        ({"model": INSTRUCT, "prompt": "hi", "logprobs": 6}, "logprobs"),
        ({"model": INSTRUCT, "prompt": "hi", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": INSTRUCT, "prompt": "hi", "stop": [1]}, "stop"),
        ({"model": INSTRUCT, "prompt": "hi", "echo": "yes"}, "echo"),
    ],
)
def test_bad_bodies_are_openai_400s(http: httpx.Client, body: dict[str, Any], param: str) -> None:
    answer = http.post("/v1/completions", json=body, headers=AUTH)
    assert answer.status_code == 400, answer.text
    validate("ErrorResponse", answer.json())
    error = answer.json()["error"]
    assert (error["type"], error["param"]) == ("invalid_request_error", param)


def test_a_url_fault_reaches_the_sdk(base: str) -> None:
    client = openai.OpenAI(
        base_url=f"{base}/_fault/429,times=1/v1", api_key=OPENAI_KEY, max_retries=0
    )
    with pytest.raises(openai.RateLimitError):
        client.completions.create(model=INSTRUCT, prompt="hi")
    assert client.completions.create(model=INSTRUCT, prompt="hi").choices[0].text == "Echo: hi"


def test_context_length_is_a_legacy_400(http: httpx.Client) -> None:
    answer = http.post(
        "/v1/completions",
        json={"model": INSTRUCT, "prompt": "hi"},
        headers=AUTH | {"x-sim-fault": "context_length"},
    )
    assert answer.status_code == 400
    validate("ErrorResponse", answer.json())
    error = answer.json()["error"]
    assert error["code"] == "context_length_exceeded"
    assert "Please reduce your prompt; or completion length." in error["message"]


def test_a_truncated_stream_does_not_fold(http: httpx.Client) -> None:
    answer = http.post(
        "/v1/completions",
        json={"model": INSTRUCT, "prompt": "one two three [sim-fault:truncate]", "stream": True},
        headers=AUTH,
    )
    assert answer.status_code == 200
    data = [line.removeprefix("data: ") for line in answer.text.split("\n\n") if line]
    assert "[DONE]" not in data
    with pytest.raises(ValueError, match="incomplete"):
        fold([json.loads(item) for item in data])


def test_no_key_is_refused(http: httpx.Client) -> None:
    answer = http.post("/v1/completions", json={"model": INSTRUCT, "prompt": "hi"})
    assert answer.status_code == 401
    validate("ErrorResponse", answer.json())

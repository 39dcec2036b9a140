"""Chat answers and chunks as OpenAI's legacy text completions (gateway.text_completions.shapes).

Every text_completion built here is validated against CreateCompletionResponse of OpenAI's
OpenAPI document (tests/openapi.py). The schema types a stream chunk as that same object,
yet OpenAI streams `finish_reason: null` until a choice ends (the document's own streaming
example): `valid_chunk` checks a chunk with its nulls filled in.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import pytest
from openai.types.chat import ChatCompletion as SDKChatCompletion
from openai.types.chat import ChatCompletionChunk as SDKChatCompletionChunk

from gateway.providers.responses import chunk, completion, usage_chunk
from gateway.providers.spec import ResponseMeta, TokenUsage
from gateway.text_completions.shapes import (
    FINISH_REASONS,
    chunk_from_chat,
    completion_from_chat,
    fold,
    unfold,
)
from openapi import validate

if TYPE_CHECKING:
    from gateway.schemas.openai import ChatCompletion, ChatCompletionChunk, FinishReason

META = ResponseMeta(id="chatcmpl-abc", created=1700000000, model="gpt-4o-mini")
RID = "cmpl-gw123"
USAGE = TokenUsage(input_tokens=12, output_tokens=5, cache_read_tokens=4)
WANTED_USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 5,
    "total_tokens": 17,
    "prompt_tokens_details": {"cached_tokens": 4},
}
HEAD = {"id": RID, "object": "text_completion", "created": 1700000000, "model": "gpt-4o-mini"}


def valid(body: dict[str, Any]) -> dict[str, Any]:
    validate("CreateCompletionResponse", body)
    return body


def valid_chunk(body: dict[str, Any]) -> dict[str, Any]:
    filled = copy.deepcopy(body)
    for choice in filled["choices"]:
        choice["finish_reason"] = choice["finish_reason"] or "stop"
    validate("CreateCompletionResponse", filled)
    return body


def chat_answer(text: str | None, finish: FinishReason = "stop") -> ChatCompletion:
    return completion(META, content=text, finish_reason=finish, usage=USAGE)


def chat_stream(pieces: list[str], finish: FinishReason = "stop") -> list[ChatCompletionChunk]:
    """A chat stream as the gateway's dialects emit it: role, content, finish, usage."""
    chunks = [chunk(META, {"role": "assistant", "content": ""})]
    chunks += [chunk(META, {"content": piece}) for piece in pieces]
    chunks.append(chunk(META, {}, finish))
    chunks.append(usage_chunk(META, USAGE))
    return chunks


def text_completion(
    texts: list[str], finishes: list[str], usage: dict[str, Any] | None
) -> dict[str, Any]:
    choices = [
        {"text": text, "index": index, "logprobs": None, "finish_reason": finish}
        for index, (text, finish) in enumerate(zip(texts, finishes, strict=True))
    ]
    body: dict[str, Any] = {**HEAD, "choices": choices}
    if usage is not None:
        body["usage"] = usage
    return body


# --------------------------------------------------------------------------- completion_from_chat


@pytest.mark.parametrize("stream", [False, True])
def test_a_chat_answer_is_a_text_completion(stream: bool) -> None:
    if stream:
        chunks = [chunk_from_chat(c, response_id=RID) for c in chat_stream(["Hel", "lo", "!"])]
        got = fold([valid_chunk(c) for c in chunks if c is not None])
    else:
        got = completion_from_chat(chat_answer("Hello!"), response_id=RID)
    assert valid(got) == text_completion(["Hello!"], ["stop"], WANTED_USAGE)


@pytest.mark.parametrize(
    ("chat", "text"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("tool_calls", "stop"),
        ("function_call", "stop"),
        ("something_new", "stop"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_finish_reasons_map_to_the_legacy_vocabulary(chat: Any, text: str, stream: bool) -> None:
    if stream:
        chunks = [chunk_from_chat(c, response_id=RID) for c in chat_stream(["hi"], chat)]
        got = fold([c for c in chunks if c is not None])
    else:
        got = completion_from_chat(chat_answer("hi", chat), response_id=RID)
    assert valid(got)["choices"][0]["finish_reason"] == text
    assert set(FINISH_REASONS.values()) == {"stop", "length", "content_filter"}


def test_content_then_refusal_then_nothing_is_the_text() -> None:
    answer: dict[str, Any] = dict(chat_answer(None))
    assert completion_from_chat(answer, response_id=RID)["choices"][0]["text"] == ""
    answer["choices"][0]["message"]["refusal"] = "I can't help with that."
    got = completion_from_chat(answer, response_id=RID)
    assert valid(got)["choices"][0]["text"] == "I can't help with that."


def test_every_choice_usage_details_and_fingerprint_are_kept() -> None:
    answer: dict[str, Any] = copy.deepcopy(dict(chat_answer("one")))
    second = copy.deepcopy(answer["choices"][0])
    second.update(index=1, finish_reason="length")
    second["message"].update(content="two", reasoning_content="thinking")
    answer["choices"].append(second)
    answer["system_fingerprint"] = "fp_44709d6fcb"
    answer["usage"]["completion_tokens_details"] = {"reasoning_tokens": 3}
    got = valid(completion_from_chat(answer, response_id=RID))
    assert [(c["index"], c["text"], c["finish_reason"]) for c in got["choices"]] == [
        (0, "one", "stop"),
        (1, "two", "length"),
    ]
    assert got["system_fingerprint"] == "fp_44709d6fcb"
    assert got["usage"] == WANTED_USAGE | {"completion_tokens_details": {"reasoning_tokens": 3}}
    answer["system_fingerprint"] = None  # the schema types it as a string: left out
    assert "system_fingerprint" not in valid(completion_from_chat(answer, response_id=RID))


def test_no_usage_no_usage_key() -> None:
    answer: dict[str, Any] = dict(chat_answer("hi"))
    del answer["usage"]
    assert "usage" not in valid(completion_from_chat(answer, response_id=RID))


def test_the_sdk_models_read_as_their_dicts() -> None:
    answer = chat_answer("Hello!")
    model = SDKChatCompletion.model_validate(answer)
    assert completion_from_chat(model, response_id=RID) == completion_from_chat(
        answer, response_id=RID
    )
    for part in chat_stream(["Hel", "lo"]):
        sdk_chunk = SDKChatCompletionChunk.model_validate(part)
        assert chunk_from_chat(sdk_chunk, response_id=RID) == chunk_from_chat(part, response_id=RID)


# --------------------------------------------------------------------------- chunk_from_chat


def test_chunks_show_text_finish_and_usage_only() -> None:
    role, first, second, finish, usage = (
        chunk_from_chat(c, response_id=RID) for c in chat_stream(["Hel", "lo"])
    )
    assert role is None  # the role-only first chunk shows nothing
    assert valid_chunk(first or {}) == {
        **HEAD,
        "choices": [{"text": "Hel", "index": 0, "logprobs": None, "finish_reason": None}],
    }
    assert (second or {})["choices"][0]["text"] == "lo"
    assert valid_chunk(finish or {})["choices"] == [
        {"text": "", "index": 0, "logprobs": None, "finish_reason": "stop"}
    ]
    assert "usage" not in (finish or {})
    assert valid_chunk(usage or {}) == {**HEAD, "choices": [], "usage": WANTED_USAGE}


def test_a_null_usage_is_left_out_and_an_empty_chunk_is_nothing() -> None:
    empty: dict[str, Any] = {**chunk(META, {}), "choices": [], "usage": None}
    assert chunk_from_chat(empty, response_id=RID) is None
    text: dict[str, Any] = {**chunk(META, {"content": "x"}), "usage": None}
    assert "usage" not in (chunk_from_chat(text, response_id=RID) or {})


# --------------------------------------------------------------------------- fold and unfold

LOGPROBS = {
    "tokens": ["Hello", " world"],
    "token_logprobs": [-0.1, -0.2],
    "top_logprobs": [{"Hello": -0.1}, {" world": -0.2}],
    "text_offset": [5, 10],
}


def _with_logprobs() -> dict[str, Any]:
    body = text_completion(["Hello world"], ["length"], WANTED_USAGE)
    body["choices"][0]["logprobs"] = copy.deepcopy(LOGPROBS)
    return body


CASES = {
    "one choice": text_completion(["Hello!"], ["stop"], WANTED_USAGE),
    "n choices, one empty": text_completion(["a", "", "c"], ["stop", "length", "stop"], None),
    "logprobs": _with_logprobs(),
    "fingerprint": text_completion(["x"], ["stop"], WANTED_USAGE) | {"system_fingerprint": "fp"},
}


@pytest.mark.parametrize("case", list(CASES))
def test_fold_of_unfold_is_the_completion(case: str) -> None:
    whole = valid(CASES[case])
    chunks = unfold(whole, with_usage=True)
    assert fold([valid_chunk(c) for c in chunks]) == whole
    assert CASES[case] == whole  # unfold copies: the cached entry is left alone


def test_unfold_sends_text_then_finishes_then_usage() -> None:
    whole = text_completion(["a", "b"], ["stop", "length"], WANTED_USAGE)
    chunks = unfold(whole, with_usage=True)
    shown = [[(c["index"], c["text"], c["finish_reason"]) for c in x["choices"]] for x in chunks]
    assert shown == [[(0, "a", None)], [(1, "b", None)], [(0, "", "stop")], [(1, "", "length")], []]
    assert chunks[-1]["usage"] == WANTED_USAGE
    assert all("usage" not in c for c in chunks[:-1])
    without = unfold(whole, with_usage=False)
    assert without == chunks[:-1]
    assert fold(without) == {key: value for key, value in whole.items() if key != "usage"}


def test_fold_interleaved_choices_and_split_logprobs() -> None:
    def part(index: int, text: str, finish: str | None, lp: Any = None) -> dict[str, Any]:
        choice = {"text": text, "index": index, "logprobs": lp, "finish_reason": finish}
        return {**HEAD, "choices": [choice]}

    first = {key: values[:1] for key, values in LOGPROBS.items()}
    second = {key: values[1:] for key, values in LOGPROBS.items()}
    empty: dict[str, list[Any]] = {key: [] for key in LOGPROBS}
    chunks = [
        part(1, "Bye", None),
        part(0, "Hello", None, first),
        part(0, " world", None, second),
        part(1, "", "stop"),
        part(0, "", "length", empty),  # as OpenAI ends a choice that asked for logprobs
        {**HEAD, "choices": [], "usage": WANTED_USAGE},
    ]
    got = valid(fold(chunks))
    assert [(c["index"], c["text"], c["finish_reason"]) for c in got["choices"]] == [
        (0, "Hello world", "length"),
        (1, "Bye", "stop"),
    ]
    assert got["choices"][0]["logprobs"] == LOGPROBS
    assert got["choices"][1]["logprobs"] is None
    assert got["usage"] == WANTED_USAGE
    assert first["tokens"] == ["Hello"]  # the chunks are not changed by folding


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param([], id="nothing"),
        pytest.param(unfold(CASES["one choice"], with_usage=True)[:1], id="no finish"),
        pytest.param(
            [c for c in unfold(CASES["n choices, one empty"], with_usage=True) if c["choices"]][
                :-1
            ],
            id="one choice unfinished",
        ),
        pytest.param([{**HEAD, "choices": [], "usage": WANTED_USAGE}], id="usage only"),
    ],
)
def test_an_incomplete_stream_is_refused(chunks: list[dict[str, Any]]) -> None:
    with pytest.raises(ValueError, match="stream"):
        fold(chunks)

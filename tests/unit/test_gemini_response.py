"""The Gemini dialect's responses and streams against golden files.

Each response fixture's `gemini` body and each stream line were validated against the
google-genai SDK's GenerateContentResponse (extra fields forbidden); the shapes follow
Google's documented examples and a recorded Vertex AI SSE stream (trafficType,
createTime, a closing part that holds only a thought signature).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chunks import fold
from gateway import errors
from gateway.providers import gemini
from gateway.providers.gemini.response import FINISH_REASONS, MALFORMED_STOPS
from gateway.providers.spec import ResponseMeta, TokenUsage, UpstreamEvent

FIXTURES = Path(__file__).parent.parent / "fixtures" / "gemini"
META = ResponseMeta(id="chatcmpl-test", created=1700000000, model="gemini")


def cases(suffix: str) -> list[str]:
    return sorted(p.name.removesuffix(suffix) for p in FIXTURES.glob(f"*{suffix}"))


RESPONSE_CASES = [c for c in cases(".response.json") if not c.startswith("error_")]
STREAM_CASES = [c for c in cases(".stream.jsonl") if c in RESPONSE_CASES]


def load(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def events(case: str) -> list[UpstreamEvent]:
    lines = (FIXTURES / f"{case}.stream.jsonl").read_text().splitlines()
    return [UpstreamEvent(name="message", data=line) for line in lines]


def usage_dict(usage: TokenUsage | None) -> dict[str, int]:
    assert usage is not None
    names = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
    return {name: getattr(usage, name) for name in (*names, "reasoning_tokens")}


def parse(body: dict[str, Any]) -> Any:
    return gemini.parse_response(json.dumps(body).encode(), META)


def run_stream(case: str) -> tuple[list[Any], Any]:
    state = gemini.new_stream_state(META)
    chunks = [chunk for event in events(case) for chunk in gemini.parse_stream_event(state, event)]
    chunks += gemini.finish_stream(state)
    return chunks, state


# ---- non-streamed ------------------------------------------------------------------------


@pytest.mark.parametrize("case", RESPONSE_CASES)
def test_response_golden(case: str) -> None:
    golden = load(f"{case}.response.json")
    completion = parse(golden["gemini"])
    assert completion.response == golden["openai"]
    assert usage_dict(completion.usage) == golden["usage"]


def test_every_response_golden_has_a_stream() -> None:
    missing = set(RESPONSE_CASES) - set(STREAM_CASES)
    assert missing == {"cache_usage"}  # usage only: the stream shape adds nothing


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("CONTINUATION", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("IMAGE_SAFETY", "content_filter"),
        ("MODEL_ARMOR", "content_filter"),
        ("OTHER", "stop"),
        ("FINISH_REASON_UNSPECIFIED", "stop"),
        ("A_REASON_FROM_THE_FUTURE", "stop"),
    ],
)
def test_finish_reasons(reason: str, expected: str) -> None:
    body = load("plain_text.response.json")["gemini"]
    body["candidates"][0]["finishReason"] = reason
    assert parse(body).response["choices"][0]["finish_reason"] == expected


def test_every_mapped_reason_is_in_openais_vocabulary() -> None:
    assert set(FINISH_REASONS.values()) <= {"stop", "length", "content_filter"}
    assert not MALFORMED_STOPS & set(FINISH_REASONS)


@pytest.mark.parametrize("reason", sorted(MALFORMED_STOPS))
def test_malformed_output_is_a_provider_failure(reason: str) -> None:
    body = load("plain_text.response.json")["gemini"]
    body["candidates"][0]["finishReason"] = reason
    with pytest.raises(errors.UpstreamError):
        parse(body)


def test_missing_thought_signature_is_the_requests_fault() -> None:
    body = load("plain_text.response.json")["gemini"]
    body["candidates"][0]["finishReason"] = "MISSING_THOUGHT_SIGNATURE"
    with pytest.raises(errors.InvalidRequestError) as caught:
        parse(body)
    assert caught.value.status == 400


def test_a_stop_after_function_calls_is_tool_calls() -> None:
    choice = parse(load("tools.response.json")["gemini"]).response["choices"][0]
    assert choice["finish_reason"] == "tool_calls"


def test_a_given_call_id_is_kept() -> None:
    body = load("tools.response.json")["gemini"]
    body["candidates"][0]["content"]["parts"][2]["functionCall"]["id"] = "fc-7"
    calls = parse(body).response["choices"][0]["message"]["tool_calls"]
    assert calls[1]["id"] == "fc-7"


def test_minted_ids_differ_between_responses() -> None:
    body = load("tools.response.json")["gemini"]
    first = parse(body).response["choices"][0]["message"]["tool_calls"][1]["id"]
    other = gemini.parse_response(json.dumps(body).encode(), ResponseMeta("chatcmpl-2", 1, "m"))
    assert other.response["choices"][0]["message"]["tool_calls"][1]["id"] != first


def test_empty_candidate_has_no_content() -> None:
    body = {"candidates": [{"finishReason": "STOP"}], "usageMetadata": {"promptTokenCount": 3}}
    message = parse(body).response["choices"][0]["message"]
    assert message == {"role": "assistant", "content": None}


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[]", b"{}", b'{"candidates": []}', b'{"candidates": ["x"]}'],
)
def test_unusable_response_is_a_provider_failure(body: bytes) -> None:
    with pytest.raises(errors.UpstreamError):
        gemini.parse_response(body, META)


# ---- streams -------------------------------------------------------------------------------


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_folds_to_the_response(case: str) -> None:
    chunks, state = run_stream(case)
    golden = load(f"{case}.response.json")
    expected = golden["openai"]["choices"][0]
    folded = fold(chunks, META)
    assert folded["message"] == expected["message"]
    assert folded["finish_reason"] == expected["finish_reason"]
    assert usage_dict(state.usage) == golden["usage"]
    assert state.done


@pytest.mark.parametrize("case", STREAM_CASES)
def test_stream_chunk_shape(case: str) -> None:
    chunks, _ = run_stream(case)
    choices = [chunk["choices"][0] for chunk in chunks]
    assert choices[0]["delta"]["role"] == "assistant"
    assert all("role" not in choice["delta"] for choice in choices[1:])
    assert [choice["finish_reason"] is not None for choice in choices] == [False] * (
        len(choices) - 1
    ) + [True]
    assert choices[-1]["delta"] == {}


def test_plain_text_chunks() -> None:
    chunks, _ = run_stream("plain_text")
    deltas = [(c["choices"][0]["delta"], c["choices"][0]["finish_reason"]) for c in chunks]
    assert deltas == [
        ({"role": "assistant", "content": "Hi!"}, None),
        ({"content": " How can I help"}, None),
        ({"content": " you today?"}, None),
        ({}, "stop"),
    ]


def test_tool_calls_arrive_whole_with_their_index() -> None:
    chunks, _ = run_stream("tools")
    calls = [
        call for chunk in chunks for call in chunk["choices"][0]["delta"].get("tool_calls", [])
    ]
    assert [call["index"] for call in calls] == [0, 1]
    assert all(set(call) == {"index", "id", "type", "function"} for call in calls)
    assert calls[1]["function"] == {"name": "get_time", "arguments": "{}"}


def test_blocked_prompt_stream_is_one_refusal() -> None:
    chunks, state = run_stream("prompt_blocked")
    assert [c["choices"][0]["delta"] for c in chunks] == [{"role": "assistant"}, {}]
    assert state.finish_reason == "content_filter"


def test_truncated_stream_raises() -> None:
    with pytest.raises(errors.UpstreamError):
        run_stream("truncated")


def test_stream_error_event_raises_the_mapped_error() -> None:
    state = gemini.new_stream_state(META)
    first, error = events("stream_error")
    assert gemini.parse_stream_event(state, first)
    with pytest.raises(errors.ServiceUnavailableError):
        gemini.parse_stream_event(state, error)


def test_usage_after_the_finish_is_kept() -> None:
    state = gemini.new_stream_state(META)
    for event in events("plain_text"):
        gemini.parse_stream_event(state, event)
    late = UpstreamEvent("message", json.dumps({"usageMetadata": {"promptTokenCount": 5}}))
    assert gemini.parse_stream_event(state, late) == []
    assert state.usage == TokenUsage(input_tokens=5)


def test_malformed_stop_in_a_stream_raises() -> None:
    state = gemini.new_stream_state(META)
    event = {
        "candidates": [
            {"content": {"parts": [{"text": "x"}]}, "finishReason": "MALFORMED_FUNCTION_CALL"}
        ]
    }
    with pytest.raises(errors.UpstreamError):
        gemini.parse_stream_event(state, UpstreamEvent("message", json.dumps(event)))


def test_invalid_event_is_a_provider_failure() -> None:
    state = gemini.new_stream_state(META)
    with pytest.raises(errors.UpstreamError):
        gemini.parse_stream_event(state, UpstreamEvent("message", "not json"))

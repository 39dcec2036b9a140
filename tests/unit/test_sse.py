"""The SSE decoder (upstream streams) and encoder (ours)."""

from __future__ import annotations

import json

import pytest

from gateway.providers.spec import UpstreamEvent
from gateway.providers.sse import DONE, SSEDecoder, encode

OPENAI_STREAM = (
    b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hi"}}]}\n\n'
    b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":" '
    b'\xc3\xa9t\xc3\xa9"}}]}\n\n'
    b"data: [DONE]\n\n"
)
OPENAI_EVENTS = [
    UpstreamEvent(
        "message", '{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"Hi"}}]}'
    ),
    UpstreamEvent(
        "message", '{"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":" été"}}]}'
    ),
    UpstreamEvent("message", "[DONE]"),
]

ANTHROPIC_STREAM = (
    b"event: message_start\n"
    b'data: {"type":"message_start"}\n\n'
    b": keep-alive comment\n\n"
    b"event: ping\n"
    b'data: {"type": "ping"}\n\n'
    b"event: content_block_delta\n"
    b'data: {"type":"content_block_delta","delta":{"text":"\xf0\x9f\x91\x8b"}}\n\n'
)
ANTHROPIC_EVENTS = [
    UpstreamEvent("message_start", '{"type":"message_start"}'),
    UpstreamEvent("ping", '{"type": "ping"}'),
    UpstreamEvent("content_block_delta", '{"type":"content_block_delta","delta":{"text":"👋"}}'),
]


def decode(chunks: list[bytes]) -> list[UpstreamEvent]:
    decoder = SSEDecoder()
    events = [event for chunk in chunks for event in decoder.feed(chunk)]
    return events + decoder.close()


def one_byte_at_a_time(raw: bytes) -> list[bytes]:
    return [raw[i : i + 1] for i in range(len(raw))]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(OPENAI_STREAM, OPENAI_EVENTS), (ANTHROPIC_STREAM, ANTHROPIC_EVENTS)],
    ids=["openai", "anthropic"],
)
def test_whole_stream(raw: bytes, expected: list[UpstreamEvent]) -> None:
    assert decode([raw]) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(OPENAI_STREAM, OPENAI_EVENTS), (ANTHROPIC_STREAM, ANTHROPIC_EVENTS)],
    ids=["openai", "anthropic"],
)
def test_one_byte_at_a_time(raw: bytes, expected: list[UpstreamEvent]) -> None:
    assert decode(one_byte_at_a_time(raw)) == expected


@pytest.mark.parametrize("cut", range(1, len(ANTHROPIC_STREAM)))
def test_every_split_point(cut: int) -> None:
    assert decode([ANTHROPIC_STREAM[:cut], ANTHROPIC_STREAM[cut:]]) == ANTHROPIC_EVENTS


def test_events_come_out_as_soon_as_they_end() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\n") == [UpstreamEvent("message", "a")]
    assert decoder.feed(b"data: b\n\ndata: c") == [UpstreamEvent("message", "b")]
    assert decoder.feed(b"\n\n") == [UpstreamEvent("message", "c")]


def test_crlf_line_endings() -> None:
    raw = OPENAI_STREAM.replace(b"\n", b"\r\n")
    assert decode([raw]) == OPENAI_EVENTS
    assert decode(one_byte_at_a_time(raw)) == OPENAI_EVENTS  # "\r" and "\n" in separate reads


def test_comments_are_ignored() -> None:
    raw = b": OPENROUTER PROCESSING\n\n:\n\ndata: x\n: between fields\nevent: e\n\n"
    assert decode([raw]) == [UpstreamEvent("e", "x")]


def test_multi_line_data_is_joined_with_newlines() -> None:
    raw = b"data: first\ndata:second\ndata:  third\ndata\n\n"
    assert decode([raw]) == [UpstreamEvent("message", "first\nsecond\n third\n")]


def test_event_name_applies_to_one_event_only() -> None:
    raw = b"event: error\ndata: {}\n\ndata: {}\n\n"
    assert decode([raw]) == [UpstreamEvent("error", "{}"), UpstreamEvent("message", "{}")]


def test_event_without_data_is_not_emitted_and_its_name_does_not_leak() -> None:
    raw = b"event: ping\n\ndata: x\n\n"
    assert decode([raw]) == [UpstreamEvent("message", "x")]


def test_unknown_fields_are_ignored() -> None:
    raw = b"id: 7\nretry: 1000\ndata: x\nfoo: bar\n\n"
    assert decode([raw]) == [UpstreamEvent("message", "x")]


@pytest.mark.parametrize(
    "tail",
    [b"data: cut", b"data: cut\n", b"event: message_stop\ndata: {}\n"],
)
def test_unterminated_final_event_is_not_emitted(tail: bytes) -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: whole\n\n" + tail) == [UpstreamEvent("message", "whole")]
    assert decoder.close() == []


def test_close_resets_the_decoder() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"event: a\ndata: half")
    decoder.close()
    assert decoder.feed(b"data: next\n\n") == [UpstreamEvent("message", "next")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert decode([b"data: \xff\n\n"]) == [UpstreamEvent("message", "\ufffd")]


@pytest.mark.parametrize(
    "payload",
    [
        {"id": "chatcmpl-1", "choices": [{"index": 0, "delta": {"content": "a\nb\r\n\n"}}]},
        {"text": "été 👋", "nested": {"list": [1, 2.5, None, True]}},
        [],
        ["data: x", "\n\n"],
    ],
)
def test_encode_parses_back(payload: object) -> None:
    raw = encode(payload)  # type: ignore[arg-type]
    assert raw.startswith(b"data: ")
    assert raw.endswith(b"\n\n")
    assert raw.count(b"\n") == 2  # newlines inside the payload are escaped
    [event] = decode(one_byte_at_a_time(raw))
    assert event.name == "message"
    assert json.loads(event.data) == payload


def test_encode_is_compact() -> None:
    assert encode({"a": [1, 2]}) == b'data: {"a":[1,2]}\n\n'


def test_done() -> None:
    assert DONE == b"data: [DONE]\n\n"
    assert decode([DONE]) == [UpstreamEvent("message", "[DONE]")]

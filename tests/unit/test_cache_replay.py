"""Cached answers in both shapes, and the cache controls a request may carry."""

from __future__ import annotations

from typing import Any

import pytest

from gateway import errors
from gateway.cache import replay
from gateway.cache.controls import CacheControls, check_allowed, parse_controls
from gateway.cache.settings import parse_cache_settings
from gateway.config import ConfigError
from gateway.providers.spec import ResponseMeta

META = ResponseMeta(id="chatcmpl-new", created=123, model="asked")
USAGE = {"prompt_tokens": 3, "completion_tokens": 4, "total_tokens": 7}


def completion(**message: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-old",
        "object": "chat.completion",
        "created": 1,
        "model": "old",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": None, **message},
                "finish_reason": "tool_calls" if "tool_calls" in message else "stop",
                "logprobs": None,
            }
        ],
        "usage": USAGE,
    }


CALL = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
CASES = [
    completion(content="Hello there"),
    completion(content=None, tool_calls=[CALL]),
    completion(content="Thinking done", reasoning_content="hmm"),
]


@pytest.mark.parametrize("original", CASES)
def test_a_completion_survives_unfolding_and_folding(original: dict[str, Any]) -> None:
    entry = replay.entry_from_completion(original)
    chunks = replay.as_chunks(entry, META, with_usage=True)
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[-1] == {
        "id": "chatcmpl-new",
        "object": "chat.completion.chunk",
        "created": 123,
        "model": "asked",
        "choices": [],
        "usage": USAGE,
    }
    assert all(
        (c["id"], c["created"], c["model"]) == ("chatcmpl-new", 123, "asked") for c in chunks
    )
    streamed = replay.entry_from_chunks(chunks, USAGE)
    again = replay.as_completion(streamed, META)
    assert again["choices"] == original["choices"]
    assert again["usage"] == USAGE
    assert (again["id"], again["object"], again["model"]) == (
        "chatcmpl-new",
        "chat.completion",
        "asked",
    )


def test_a_stream_entry_replays_its_own_chunks_and_usage_only_when_asked() -> None:
    chunks = replay.as_chunks(replay.entry_from_completion(CASES[0]), META, with_usage=False)
    entry = replay.entry_from_chunks(chunks, USAGE)
    assert replay.as_chunks(entry, META, with_usage=False) == chunks
    assert replay.as_chunks(entry, META, with_usage=True)[-1]["usage"] == USAGE


def test_controls_from_body_and_headers() -> None:
    data: dict[str, Any] = {"cache": {"ttl": 60, "namespace": "eval"}}
    found = parse_controls(data, {"cache-control": "no-cache, s-maxage=30"})
    assert "cache" not in data
    assert found == CacheControls(no_cache=True, ttl_s=60, s_maxage_s=30, namespace="eval")
    assert found.used == {"no-cache", "ttl", "s-maxage", "namespace"}
    assert parse_controls({}, {"x-gateway-cache-ttl": "5"}).ttl_s == 5


@pytest.mark.parametrize(
    "bad",
    [
        {"forever": True},
        {"ttl": -1},
        {"ttl": "5"},
        {"ttl": 10**9},
        {"namespace": "a/b"},
        {"no-cache": "yes"},
        [],
    ],
)
def test_bad_controls_are_400(bad: Any) -> None:
    with pytest.raises(errors.InvalidRequestError):
        parse_controls({"cache": bad}, {})


def test_a_key_may_use_only_its_controls() -> None:
    check_allowed(CacheControls(no_cache=True), None)
    check_allowed(CacheControls(no_cache=True), ("no-cache",))
    with pytest.raises(errors.PermissionDeniedError):
        check_allowed(CacheControls(no_store=True), ("no-cache",))
    with pytest.raises(errors.PermissionDeniedError):
        check_allowed(CacheControls(ttl_s=5), ())


def test_cache_settings_follow_litellm() -> None:
    assert not parse_cache_settings({}).enabled
    on = parse_cache_settings({"litellm_settings": {"cache": True, "cache_params": {"ttl": 60}}})
    assert (on.enabled, on.ttl_s, on.namespace_by) == (True, 60.0, "team")
    embeddings_only = {"cache": True, "cache_params": {"supported_call_types": ["embedding"]}}
    assert not parse_cache_settings({"litellm_settings": embeddings_only}).enabled
    for bad in ({"type": "redis"}, {"ttl": 0}, {"namespace_by": "user"}):
        with pytest.raises(ConfigError):
            parse_cache_settings({"litellm_settings": {"cache": True, "cache_params": bad}})

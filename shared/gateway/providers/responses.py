"""Builders for the OpenAI response and chunk dicts that every dialect emits."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.providers.spec import TokenUsage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.providers.spec import ResponseMeta
    from gateway.schemas.openai import (
        ChatCompletion,
        ChatCompletionChunk,
        Delta,
        FinishReason,
        MessageOut,
        ToolCallOut,
        UsageOut,
    )


def usage_in(usage: UsageOut | Mapping[str, Any] | None) -> TokenUsage | None:
    """A chat usage object as TokenUsage (None if there is none)."""
    if not usage:
        return None
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return TokenUsage(
        input_tokens=usage.get("prompt_tokens") or 0,
        output_tokens=usage.get("completion_tokens") or 0,
        cache_read_tokens=cached,
        reasoning_tokens=reasoning,
    )


def usage_out(usage: TokenUsage) -> UsageOut:
    out: UsageOut = {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.input_tokens + usage.output_tokens,
    }
    if usage.cache_read_tokens:
        out["prompt_tokens_details"] = {"cached_tokens": usage.cache_read_tokens}
    if usage.reasoning_tokens:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning_tokens}
    return out


def completion(
    meta: ResponseMeta,
    *,
    content: str | None,
    finish_reason: FinishReason,
    usage: TokenUsage,
    tool_calls: list[ToolCallOut] | None = None,
    reasoning: str | None = None,
) -> ChatCompletion:
    message: MessageOut = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = reasoning
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [
            {"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}
        ],
        "usage": usage_out(usage),
    }


def chunk(
    meta: ResponseMeta, delta: Delta, finish_reason: FinishReason | None = None
) -> ChatCompletionChunk:
    return {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }


def usage_chunk(meta: ResponseMeta, usage: TokenUsage) -> ChatCompletionChunk:
    return {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [],
        "usage": usage_out(usage),
    }

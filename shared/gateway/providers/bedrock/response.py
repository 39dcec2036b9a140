"""Converse responses -> OpenAI completions; the finish-reason and usage maps streams share.

Usage: Converse reports `inputTokens` without the cache reads and writes, which
come separately (AWS prompt-caching guide); TokenUsage.input_tokens is their sum.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import failures, responses
from gateway.providers.spec import Completion, TokenUsage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.providers.spec import ResponseMeta
    from gateway.schemas.openai import FinishReason, FunctionCallOut, ToolCallOut

FINISH_REASONS: Mapping[str, FinishReason] = MappingProxyType(
    {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "tool_use": "tool_calls",
        "max_tokens": "length",
        "model_context_window_exceeded": "length",
        "guardrail_intervened": "content_filter",
        "content_filtered": "content_filter",
    }
)
# The model broke its own output or tool-call format: a provider failure (502,
# retryable elsewhere), not a finish reason a client could act on.
MALFORMED_STOPS = frozenset({"malformed_model_output", "malformed_tool_use"})


def finish_reason(stop: Any) -> FinishReason:
    if stop in MALFORMED_STOPS:
        raise errors.UpstreamError("The model produced malformed output.")
    return FINISH_REASONS.get(str(stop), "stop")


def token_usage(raw: Any) -> TokenUsage:
    if not isinstance(raw, dict):
        return TokenUsage()
    read = int(raw.get("cacheReadInputTokens") or 0)
    write = int(raw.get("cacheWriteInputTokens") or 0)
    return TokenUsage(
        input_tokens=int(raw.get("inputTokens") or 0) + read + write,
        output_tokens=int(raw.get("outputTokens") or 0),
        cache_read_tokens=read,
        cache_write_tokens=write,
    )


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_response(body: bytes, meta: ResponseMeta) -> Completion:
    data = failures.json_object(body)
    message = as_dict(data.get("output")).get("message")
    blocks = message.get("content") if isinstance(message, dict) else None
    if not isinstance(blocks, list):
        raise errors.UpstreamError("The provider sent a response without a message.")
    texts: list[str] = []
    reasoning: list[str] = []
    calls: list[ToolCallOut] = []
    for block in blocks:
        block = as_dict(block)
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif "toolUse" in block:
            use = as_dict(block["toolUse"])
            arguments = json.dumps(use.get("input", {}))
            name = str(use.get("name", ""))
            call_id = str(use.get("toolUseId", ""))
            function: FunctionCallOut = {"name": name, "arguments": arguments}
            calls.append({"id": call_id, "type": "function", "function": function})
        elif "reasoningContent" in block:
            text = as_dict(as_dict(block["reasoningContent"]).get("reasoningText")).get("text")
            if isinstance(text, str):
                reasoning.append(text)
    usage = token_usage(data.get("usage"))
    response = responses.completion(
        meta,
        content="".join(texts) if texts or not calls else None,
        finish_reason=finish_reason(data.get("stopReason")),
        usage=usage,
        tool_calls=calls,
        reasoning="".join(reasoning) or None,
    )
    return Completion(response=response, usage=usage)

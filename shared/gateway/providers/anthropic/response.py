"""Anthropic Message -> ChatCompletion; the finish-reason map streams share.

The usage map is Claude's own (providers/claude.py), shared with Bedrock's InvokeModel.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from gateway import errors
from gateway.providers import failures, responses
from gateway.providers.claude import token_usage
from gateway.providers.spec import Completion

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.providers.spec import ResponseMeta
    from gateway.schemas.openai import FinishReason, ToolCallOut

FINISH_REASONS: Mapping[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
    # Both end a turn unfinished; OpenAI's nearest word is "length".
    "pause_turn": "length",
    "model_context_window_exceeded": "length",
}


def finish_reason(raw: object) -> FinishReason:
    return FINISH_REASONS.get(str(raw), "stop")


def arguments(tool_input: object) -> str:
    return json.dumps(tool_input if isinstance(tool_input, dict) else {}, ensure_ascii=False)


def parse_response(body: bytes, meta: ResponseMeta) -> Completion:
    data = failures.json_object(body)
    if not isinstance(data.get("content"), list):
        raise errors.UpstreamError("The provider sent a malformed response.")
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[ToolCallOut] = []
    for block in data["content"]:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "thinking":
            thoughts.append(str(block.get("thinking", "")))
        elif kind == "tool_use":
            calls.append(
                {
                    "id": str(block.get("id", "")),
                    "type": "function",
                    "function": {
                        "name": str(block.get("name", "")),
                        "arguments": arguments(block.get("input")),
                    },
                }
            )
        # redacted_thinking is opaque; server-tool blocks never occur (we send no server tools)
    raw_usage = data.get("usage")
    usage = token_usage(raw_usage if isinstance(raw_usage, dict) else {})
    response = responses.completion(
        meta,
        content="".join(texts) if texts else None,
        finish_reason=finish_reason(data.get("stop_reason")),
        usage=usage,
        tool_calls=calls or None,
        reasoning="".join(thoughts) or None,
    )
    return Completion(response=response, usage=usage)

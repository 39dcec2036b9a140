"""GenerateContentResponse -> ChatCompletion; the part, finish-reason and usage maps the
stream shares (https://ai.google.dev/api/generate-content#generatecontentresponse).

- Only candidates[0] is read (n is 1). Text parts join into `content`; parts marked
  `thought: true` into `reasoning_content`, as the other dialects name reasoning.
  functionCall parts become tool_calls with their args as a JSON string, named as in
  calls.py. Other parts (inline images, code execution) are not asked for and skipped.
- finishReason: STOP is "stop", or "tool_calls" when the turn made function calls
  (Gemini says STOP for both); MAX_TOKENS and CONTINUATION (the per-request limit,
  unfinished) are "length"; the safety and policy stops (SAFETY, RECITATION, LANGUAGE,
  BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT,
  IMAGE_RECITATION, MODEL_ARMOR, ESCALATION, PUP_LIMITED_DISABLED) are
  "content_filter", with whatever text came before the stop (a stream has already sent
  it; LiteLLM also files LANGUAGE there); anything else, new values included, is
  "stop". A malformed function call or response is the provider's failure (502,
  retried elsewhere), as Bedrock's malformed stops are; MISSING_THOUGHT_SIGNATURE is the
  request's (400). The enum is the google-genai SDK's FinishReason (both APIs' values).
- A prompt refused before generation (promptFeedback.blockReason, no candidates) is a
  completion with finish_reason "content_filter" and no content, as LiteLLM answers.
- usageMetadata: input = promptTokenCount (which includes cached tokens) +
  toolUsePromptTokenCount; output = candidatesTokenCount + thoughtsTokenCount (thoughts
  are billed as output and not counted in candidatesTokenCount); cache reads =
  cachedContentTokenCount; reasoning = thoughtsTokenCount.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from gateway import errors
from gateway.providers import failures, responses
from gateway.providers.gemini.calls import tool_call_id
from gateway.providers.spec import Completion, TokenUsage

if TYPE_CHECKING:
    from collections.abc import Mapping

    from gateway.providers.spec import ResponseMeta
    from gateway.schemas.openai import FinishReason, ToolCallOut

FINISH_REASONS: Mapping[str, FinishReason] = MappingProxyType(
    {
        "STOP": "stop",
        "MAX_TOKENS": "length",
        "SAFETY": "content_filter",
        "RECITATION": "content_filter",
        "LANGUAGE": "content_filter",
        "BLOCKLIST": "content_filter",
        "PROHIBITED_CONTENT": "content_filter",
        "SPII": "content_filter",
        "IMAGE_SAFETY": "content_filter",
        "IMAGE_PROHIBITED_CONTENT": "content_filter",
        "IMAGE_RECITATION": "content_filter",
        "MODEL_ARMOR": "content_filter",
        "ESCALATION": "content_filter",
        "PUP_LIMITED_DISABLED": "content_filter",
        "CONTINUATION": "length",
        "OTHER": "stop",
        "IMAGE_OTHER": "stop",
        "NO_IMAGE": "stop",
        "TOO_MANY_TOOL_CALLS": "stop",
        "FINISH_REASON_UNSPECIFIED": "stop",
    }
)
# The model broke its own function-call or response format: a provider failure.
MALFORMED_STOPS = frozenset(
    {"MALFORMED_FUNCTION_CALL", "UNEXPECTED_TOOL_CALL", "MALFORMED_RESPONSE"}
)
MISSING_SIGNATURE = "MISSING_THOUGHT_SIGNATURE"


@dataclass(frozen=True, slots=True)
class Parts:
    """One candidate's parts (or one stream chunk's), sorted by kind."""

    text: str
    thoughts: str
    calls: list[dict[str, Any]]  # the functionCall parts, signatures included


def as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def read_parts(candidate: dict[str, Any]) -> Parts:
    raw = as_dict(candidate.get("content")).get("parts")
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for part in raw if isinstance(raw, list) else ():
        part = as_dict(part)
        if isinstance(part.get("functionCall"), dict):
            calls.append(part)
        elif isinstance(part.get("text"), str):
            (thoughts if part.get("thought") is True else texts).append(part["text"])
    return Parts("".join(texts), "".join(thoughts), calls)


def tool_call(part: dict[str, Any], meta: ResponseMeta, index: int) -> ToolCallOut:
    call = part["functionCall"]
    args = call.get("args")
    return {
        "id": tool_call_id(meta.id, index, call.get("id"), part.get("thoughtSignature")),
        "type": "function",
        "function": {
            "name": str(call.get("name", "")),
            "arguments": json.dumps(args if isinstance(args, dict) else {}, ensure_ascii=False),
        },
    }


def finish_reason(raw: Any, *, tool_calls: bool) -> FinishReason:
    reason = str(raw)
    if reason in MALFORMED_STOPS:
        raise errors.UpstreamError("The model produced a malformed function call or response.")
    if reason == MISSING_SIGNATURE:
        raise errors.InvalidRequestError(
            "The provider needs the thought signatures of earlier tool calls; send the "
            "assistant tool calls back with the ids they were given.",
            param="messages",
        )
    mapped = FINISH_REASONS.get(reason, "stop")
    return "tool_calls" if mapped == "stop" and tool_calls else mapped


def token_usage(raw: Any) -> TokenUsage:
    data = as_dict(raw)

    def count(name: str) -> int:
        value = data.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    thoughts = count("thoughtsTokenCount")
    return TokenUsage(
        input_tokens=count("promptTokenCount") + count("toolUsePromptTokenCount"),
        output_tokens=count("candidatesTokenCount") + thoughts,
        cache_read_tokens=count("cachedContentTokenCount"),
        reasoning_tokens=thoughts,
    )


def blocked(data: dict[str, Any]) -> bool:
    """The prompt was refused: a blockReason and no candidates to read."""
    feedback = as_dict(data.get("promptFeedback"))
    return not data.get("candidates") and bool(feedback.get("blockReason"))


def first_candidate(data: dict[str, Any]) -> dict[str, Any] | None:
    candidates = data.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
        return candidates[0]
    return None


def parse_response(body: bytes, meta: ResponseMeta) -> Completion:
    data = failures.json_object(body)
    usage = token_usage(data.get("usageMetadata"))
    if blocked(data):
        response = responses.completion(
            meta, content=None, finish_reason="content_filter", usage=usage
        )
        return Completion(response=response, usage=usage)
    candidate = first_candidate(data)
    if candidate is None:
        raise errors.UpstreamError("The provider sent a response without candidates.")
    parts = read_parts(candidate)
    calls = [tool_call(part, meta, i) for i, part in enumerate(parts.calls)]
    response = responses.completion(
        meta,
        content=parts.text or None,
        finish_reason=finish_reason(candidate.get("finishReason"), tool_calls=bool(calls)),
        usage=usage,
        tool_calls=calls,
        reasoning=parts.thoughts or None,
    )
    return Completion(response=response, usage=usage)

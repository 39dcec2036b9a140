"""Chat answers and chunks as OpenAI's legacy text completions; the cache's fold and unfold.

References: https://platform.openai.com/docs/api-reference/completions/object, i.e. the
components CreateCompletionResponse and CompletionUsage of OpenAI's OpenAPI document
(version 2.3.0). A stream chunk is the same object with a partial `text` and
`finish_reason` null until its choice ends (the document's streaming example for
POST /completions); with `stream_options.include_usage` one more chunk, before
`data: [DONE]`, carries `usage` and `choices: []` (ChatCompletionStreamOptions).

Decisions a reader could not guess:
- finish_reason: chat's stop, length and content_filter as they are; tool_calls and
  function_call (no tools are sent, so neither can happen) and anything unknown: "stop".
- `text` is the message's content; a refusal (chat sends one only under structured
  outputs, which a completion request cannot ask for) stands in when there is no content.
  Reasoning (`reasoning_content`) has no field in a text completion and is not sent.
- logprobs are null: chat's per-token logprobs are not the legacy object. fold() still
  merges legacy logprobs objects (a passthrough stream's) by concatenating their lists.
- usage keeps CompletionUsage's fields: the three counts and the two details objects. A
  chunk carries `usage` only as an object, never `usage: null` (the schema types it as
  CompletionUsage, not nullable), as the gateway's own chat chunks do.
- system_fingerprint is copied when chat has one (a string: the schema has no null).
- fold() refuses (ValueError) a stream with no choice, or a choice without a
  finish_reason: an incomplete stream must never be cached. It keeps the schema's
  fields (a passthrough chunk's extras, vLLM's `stop_reason` say, are not kept) and the
  last usage object as it came.
- unfold() sends each choice's whole text in one chunk, then one finish chunk per choice
  (text "", as OpenAI ends a choice), then the usage chunk if asked for.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from gateway.schemas.openai import ChatCompletion, ChatCompletionChunk

TextFinishReason = Literal["stop", "length", "content_filter"]
TextCompletion = dict[str, Any]

OBJECT = "text_completion"
FINISH_REASONS: Mapping[str, TextFinishReason] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "stop",
    "function_call": "stop",
}
USAGE_FIELDS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details",
    "completion_tokens_details",
)
LOGPROB_LISTS = ("tokens", "token_logprobs", "top_logprobs", "text_offset")
_HEAD = ("id", "object", "created", "model", "system_fingerprint")


class Dumpable(Protocol):
    """A pydantic model (the openai SDK's ChatCompletion, say) instead of its dict."""

    def model_dump(self, *, exclude_none: bool = ...) -> dict[str, Any]: ...


def _mapping(value: Mapping[str, Any] | Dumpable) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else value.model_dump(exclude_none=True)


def _head(source: Mapping[str, Any], response_id: str) -> TextCompletion:
    head: TextCompletion = {
        "id": response_id,
        "object": OBJECT,
        "created": source["created"],
        "model": source["model"],
    }
    fingerprint = source.get("system_fingerprint")
    if isinstance(fingerprint, str):
        head["system_fingerprint"] = fingerprint
    return head


def _finish(reason: object) -> TextFinishReason:
    return FINISH_REASONS.get(reason, "stop") if isinstance(reason, str) else "stop"


def _text(message: Mapping[str, Any]) -> str:
    for key in ("content", "refusal"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return ""


def _usage(usage: object) -> dict[str, Any] | None:
    if not isinstance(usage, Mapping):
        return None
    out = {key: copy.deepcopy(usage[key]) for key in USAGE_FIELDS if usage.get(key) is not None}
    out.setdefault("prompt_tokens", 0)
    out.setdefault("completion_tokens", 0)
    out.setdefault("total_tokens", out["prompt_tokens"] + out["completion_tokens"])
    return out


def completion_from_chat(
    chat: ChatCompletion | Mapping[str, Any] | Dumpable, *, response_id: str
) -> TextCompletion:
    """A chat completion as a text_completion (CreateCompletionResponse)."""
    source = _mapping(chat)
    choices = [
        {
            "text": _text(choice.get("message") or {}),
            "index": choice.get("index", number),
            "logprobs": None,
            "finish_reason": _finish(choice.get("finish_reason")),
        }
        for number, choice in enumerate(source.get("choices") or [])
    ]
    out = {**_head(source, response_id), "choices": choices}
    usage = _usage(source.get("usage"))
    if usage is not None:
        out["usage"] = usage
    return out


def chunk_from_chat(
    chunk: ChatCompletionChunk | Mapping[str, Any] | Dumpable, *, response_id: str
) -> TextCompletion | None:
    """A chat chunk as a text_completion chunk; None if it shows nothing (the role chunk)."""
    source = _mapping(chunk)
    choices = []
    for choice in source.get("choices") or []:
        text = _text(choice.get("delta") or {})
        reason = choice.get("finish_reason")
        if not text and reason is None:
            continue
        out = {"text": text, "index": choice.get("index", 0), "logprobs": None}
        choices.append({**out, "finish_reason": None if reason is None else _finish(reason)})
    usage = _usage(source.get("usage"))
    if not choices and usage is None:
        return None
    out = {**_head(source, response_id), "choices": choices}
    if usage is not None:
        out["usage"] = usage
    return out


def _merged(done: dict[str, Any] | None, more: object) -> dict[str, Any] | None:
    """Legacy logprobs objects of one choice, their lists concatenated in stream order."""
    if not isinstance(more, Mapping):
        return done
    lists = {key: list(more[key]) for key in LOGPROB_LISTS if isinstance(more.get(key), list)}
    if done is None:
        return copy.deepcopy(lists)
    for key, values in lists.items():
        done.setdefault(key, []).extend(copy.deepcopy(values))
    return done


def fold(chunks: Sequence[Mapping[str, Any]]) -> TextCompletion:
    """text_completion chunks -> the text_completion they stream; ValueError if unfinished."""
    if not chunks:
        raise ValueError("no chunks: the stream never started")
    texts: dict[int, list[str]] = {}
    finishes: dict[int, str | None] = {}
    logprobs: dict[int, dict[str, Any] | None] = {}
    out: TextCompletion = {key: chunks[0][key] for key in _HEAD if key in chunks[0]}
    usage: dict[str, Any] | None = None
    for chunk in chunks:
        if isinstance(chunk.get("system_fingerprint"), str):
            out["system_fingerprint"] = chunk["system_fingerprint"]
        if isinstance(chunk.get("usage"), Mapping):
            usage = copy.deepcopy(dict(chunk["usage"]))
        for choice in chunk.get("choices") or []:
            index = choice["index"]
            texts.setdefault(index, []).append(choice.get("text") or "")
            if choice.get("finish_reason") is not None or index not in finishes:
                finishes[index] = choice.get("finish_reason")
            logprobs[index] = _merged(logprobs.get(index), choice.get("logprobs"))
    unfinished = sorted(index for index, reason in finishes.items() if reason is None)
    if not finishes or unfinished:
        raise ValueError(f"incomplete stream: choices {unfinished} have no finish_reason")
    out["choices"] = [
        {
            "text": "".join(texts[index]),
            "index": index,
            "logprobs": logprobs[index],
            "finish_reason": finishes[index],
        }
        for index in sorted(finishes)
    ]
    if usage is not None:
        out["usage"] = usage
    return out


def unfold(completion: Mapping[str, Any], *, with_usage: bool) -> list[TextCompletion]:
    """The chunks a finished text_completion streams as (a cache hit, replayed)."""
    whole = copy.deepcopy(dict(completion))
    head = {key: whole[key] for key in _HEAD if key in whole}
    choices = whole.get("choices") or []
    chunks: list[TextCompletion] = []
    for choice in choices:
        if choice.get("text") or choice.get("logprobs") is not None:
            text = {"text": choice.get("text") or "", "index": choice["index"]}
            text.update(logprobs=choice.get("logprobs"), finish_reason=None)
            chunks.append({**head, "choices": [text]})
    for choice in choices:
        end = {"text": "", "index": choice["index"], "logprobs": None}
        chunks.append({**head, "choices": [{**end, "finish_reason": choice["finish_reason"]}]})
    if with_usage and isinstance(whole.get("usage"), Mapping):
        chunks.append({**head, "choices": [], "usage": whole["usage"]})
    return chunks

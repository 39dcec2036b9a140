"""Cached answers in both shapes: a streamed answer folds into a completion, and a
completion unfolds into chunks, so a streamed request can hit a non-streamed entry
and the other way round. An entry keeps a stream's own chunks, so a streamed hit on a
streamed entry replays the same chunk structure (role, content deltas, tool-call
deltas, finish reason); the usage chunk is sent only when the request asks for it.
Every replayed object gets the new request's id, time and model name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.providers.spec import ResponseMeta

Chunk = dict[str, Any]


def fold(chunks: list[Chunk], usage: dict[str, Any] | None) -> dict[str, Any]:
    """The chat.completion a client would assemble from these chunks."""
    message: dict[str, Any] = {"role": "assistant", "content": None}
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for chunk in chunks:
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            for field in ("content", "reasoning_content"):
                if delta.get(field):
                    message[field] = (message.get(field) or "") + delta[field]
            for call in delta.get("tool_calls") or []:
                slot = calls.setdefault(
                    call["index"], {"id": None, "type": "function", "function": {"arguments": ""}}
                )
                if call.get("id"):
                    slot["id"] = call["id"]
                function = call.get("function") or {}
                if function.get("name"):
                    slot["function"]["name"] = function["name"]
                slot["function"]["arguments"] += function.get("arguments") or ""
            finish = choice.get("finish_reason") or finish
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    out: dict[str, Any] = {
        "object": "chat.completion",
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
    }
    if usage is not None:
        out["usage"] = usage
    return out


def unfold(completion: dict[str, Any]) -> list[Chunk]:
    """Chunks for a completion: the role, its content, each tool call, the finish."""
    choice = completion["choices"][0]
    message = choice["message"]
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    if message.get("reasoning_content"):
        deltas.append({"reasoning_content": message["reasoning_content"]})
    if message.get("content"):
        deltas.append({"content": message["content"]})
    for index, call in enumerate(message.get("tool_calls") or []):
        deltas.append(
            {
                "tool_calls": [
                    {
                        "index": index,
                        "id": call["id"],
                        "type": "function",
                        "function": {
                            "name": call["function"]["name"],
                            "arguments": call["function"]["arguments"],
                        },
                    }
                ]
            }
        )
    chunks = [_chunk(delta, None) for delta in deltas]
    chunks.append(_chunk({}, choice["finish_reason"]))
    return chunks


def _chunk(delta: dict[str, Any], finish_reason: str | None) -> Chunk:
    return {
        "object": "chat.completion.chunk",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}],
    }


class ReplayError(ValueError):
    """A stored entry that is well-formed JSON but not an answer: never served."""


def _checked(completion: Any) -> dict[str, Any]:
    choices = completion.get("choices") if isinstance(completion, dict) else None
    if not choices or not isinstance(choices[0], dict):
        raise ReplayError("no choices")
    message = choices[0].get("message")
    if not isinstance(message, dict) or message.get("role") != "assistant":
        raise ReplayError("no assistant message")
    if choices[0].get("finish_reason") is None:
        raise ReplayError("no finish reason")
    checked: dict[str, Any] = completion
    return checked


def as_completion(entry: dict[str, Any], meta: ResponseMeta) -> dict[str, Any]:
    chunks = entry.get("chunks")
    body = fold(chunks, entry.get("usage")) if chunks is not None else dict(entry["completion"])
    return _branded(_checked(body), meta, "chat.completion")


def as_chunks(entry: dict[str, Any], meta: ResponseMeta, *, with_usage: bool) -> list[Chunk]:
    chunks = entry.get("chunks")
    if chunks is None:
        chunks = unfold(_checked(entry["completion"]))
    else:
        _checked(fold(chunks, None))  # a stream that never finished is no answer either
    out = [_branded(chunk, meta, "chat.completion.chunk") for chunk in chunks]
    usage = entry.get("usage") or (entry.get("completion") or {}).get("usage")
    if with_usage and usage is not None:
        out.append(_branded({"choices": [], "usage": usage}, meta, "chat.completion.chunk"))
    return out


def _branded(body: dict[str, Any], meta: ResponseMeta, kind: str) -> dict[str, Any]:
    return {
        "id": meta.id,
        "object": kind,
        "created": meta.created,
        "model": meta.model,
        **{k: v for k, v in body.items() if k not in ("id", "object", "created", "model")},
    }


def entry_from_completion(completion: dict[str, Any]) -> dict[str, Any]:
    return {"completion": completion, "chunks": None, "usage": completion.get("usage")}


def entry_from_chunks(chunks: list[Chunk], usage: dict[str, Any] | None) -> dict[str, Any]:
    """A streamed answer as recorded (without its usage chunk, which is kept apart)."""
    kept = [chunk for chunk in chunks if chunk.get("choices")]
    return {"completion": None, "chunks": kept, "usage": usage}

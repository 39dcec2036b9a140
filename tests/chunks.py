"""Fold ChatCompletionChunks into one message, the way an OpenAI client does."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gateway.providers.spec import ResponseMeta


def fold(chunks: list[Any], meta: ResponseMeta | None = None) -> dict[str, Any]:
    """{"message": ..., "finish_reason": ...}; checks every chunk's shape and identity."""
    message: dict[str, Any] = {"role": "assistant", "content": None}
    calls: dict[int, dict[str, Any]] = {}
    finish = None
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        if meta is not None:
            assert (chunk["id"], chunk["created"], chunk["model"]) == (
                meta.id,
                meta.created,
                meta.model,
            )
        if not chunk["choices"]:
            continue  # the usage chunk
        choice = chunk["choices"][0]
        delta = choice["delta"]
        for key in ("content", "reasoning_content"):
            if delta.get(key):
                message[key] = (message.get(key) or "") + delta[key]
        for call in delta.get("tool_calls") or []:
            slot = calls.setdefault(call["index"], {"function": {"arguments": ""}})
            for key in ("id", "type"):
                if key in call:
                    slot[key] = call[key]
            if "name" in call["function"]:
                slot["function"]["name"] = call["function"]["name"]
            slot["function"]["arguments"] += call["function"].get("arguments", "")
        finish = choice["finish_reason"] or finish
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return {"message": message, "finish_reason": finish}

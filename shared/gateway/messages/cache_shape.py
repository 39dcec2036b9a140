"""The response cache for the Messages API: entries are Anthropic Messages.

The key is the request's whole body and its betas (cache/keys.py
`body_fingerprint`), apart from every chat entry. A plain answer is stored as
its Message; a stream (native events, or chat chunks on the translated path) is
folded into the Message it describes. A hit is the Message under the new request's
id and model, or, for a streamed request, the events that Message unfolds into:
message_start, each block whole (its text, thinking and signature, or tool input
as one delta), message_delta with the stop reason and usage, message_stop.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any, cast

from gateway.cache.keys import body_fingerprint
from gateway.errors import GatewayError
from gateway.messages import from_chat
from gateway.messages.fold import fold
from gateway.providers import sse

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from gateway.cache.keys import CacheKey
    from gateway.providers.spec import ResponseMeta, TokenUsage
    from gateway.schemas.openai import ChatCompletion, ChatCompletionRequest

Event = dict[str, Any]
_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use"})
_INPUT_USAGE = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


class MessagesShape:
    id_prefix = "msg_"

    def __init__(self, body: Mapping[str, Any], betas: Sequence[str]) -> None:
        self.request_body = body
        self.betas = betas

    def key(
        self,
        chat: ChatCompletionRequest,
        *,
        model_group: str,
        providers: frozenset[str],
        namespace: str,
    ) -> CacheKey:
        del chat, providers  # the native body says more than its chat view
        return body_fingerprint(
            self.request_body,
            api="messages",
            betas=self.betas,
            model_group=model_group,
            namespace=namespace,
        )

    def entry_from_body(self, response: dict[str, Any]) -> dict[str, Any]:
        if response.get("object") == "chat.completion":  # the translated path's answer
            completion = cast("ChatCompletion", response)
            response = from_chat.message_from_completion(completion, message_id="", model="")
        return {"message": _checked(response)}

    def entry_from_stream(self, recorded: list[Any], usage: TokenUsage) -> dict[str, Any]:
        if recorded and recorded[0].get("object") == "chat.completion.chunk":
            events = from_chat.ChatEvents(message_id="", model="")
            recorded = [event for chunk in recorded for event in events.feed(chunk)]
            recorded += events.end(usage)
        try:
            return {"message": _checked(fold(recorded))}
        except GatewayError as exc:
            raise ValueError("not a complete answer") from exc

    def body(self, entry: dict[str, Any], meta: ResponseMeta) -> bytes:
        return sse.dumps(_branded(entry, meta))

    def stream(self, entry: dict[str, Any], meta: ResponseMeta, *, with_usage: bool) -> list[bytes]:
        del with_usage  # message_delta always carries the usage
        return [sse.encode_event(event["type"], event) for event in unfold(_branded(entry, meta))]


def _checked(message: Any) -> dict[str, Any]:
    if not isinstance(message, dict) or message.get("type") != "message":
        raise ValueError("not a message")
    if not isinstance(message.get("content"), list) or message.get("stop_reason") is None:
        raise ValueError("not a finished message")
    return message


def _branded(entry: dict[str, Any], meta: ResponseMeta) -> dict[str, Any]:
    message = copy.deepcopy(_checked(entry["message"]))
    message["id"], message["model"] = meta.id, meta.model
    return message


def unfold(message: dict[str, Any]) -> list[Event]:
    """The events of a stream that folds into `message`."""
    usage = message.get("usage") or {}
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": {**{k: usage[k] for k in _INPUT_USAGE if k in usage}, "output_tokens": 0},
    }
    events: list[Event] = [{"type": "message_start", "message": start}]
    for index, block in enumerate(message["content"]):
        events += _block_events(index, block)
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": message.get("stop_sequence")}
    events.append({"type": "message_delta", "delta": delta, "usage": usage})
    events.append({"type": "message_stop"})
    return events


def _block_events(index: int, block: dict[str, Any]) -> list[Event]:
    kind = block.get("type")
    opened = dict(block)
    deltas: list[dict[str, Any]] = []
    if kind == "text":
        opened["text"] = ""
        if block.get("citations"):
            opened["citations"] = []
            deltas += [{"type": "citations_delta", "citation": c} for c in block["citations"]]
        deltas.insert(0, {"type": "text_delta", "text": block["text"]})
    elif kind == "thinking":
        opened.update(thinking="", signature="")
        deltas.append({"type": "thinking_delta", "thinking": block["thinking"]})
        deltas.append({"type": "signature_delta", "signature": block.get("signature", "")})
    elif kind in _TOOL_BLOCKS:
        opened["input"] = {}
        partial = json.dumps(block.get("input") or {}, ensure_ascii=False)
        deltas.append({"type": "input_json_delta", "partial_json": partial})
    events: list[Event] = [{"type": "content_block_start", "index": index, "content_block": opened}]
    events += [{"type": "content_block_delta", "index": index, "delta": d} for d in deltas]
    events.append({"type": "content_block_stop", "index": index})
    return events

"""An Anthropic event stream folded into the Message it describes.

What the anthropic SDK's accumulator (lib/streaming/_messages.py, accumulate_event)
does: text, thinking and citation deltas appended, a signature_delta sets the
signature, input_json_delta fragments concatenated and parsed when their block stops,
message_delta's stop reason and non-null usage counts (cumulative) taking over.
"""

from __future__ import annotations

import copy
from typing import Any

from gateway.errors import UpstreamError
from gateway.messages.from_chat import tool_input

Event = dict[str, Any]

_TOOL_BLOCKS = frozenset({"tool_use", "server_tool_use"})


def fold(events: list[Event]) -> dict[str, Any]:
    message: dict[str, Any] | None = None
    fragments: dict[int, str] = {}
    for event in events:
        kind = event.get("type")
        if kind == "message_start":
            message = copy.deepcopy(event["message"])
            continue
        if kind in ("ping", "message_stop"):
            continue
        if kind == "error":
            raise UpstreamError("The stream ended in an error.")
        if message is None:
            raise ValueError(f"A '{kind}' event came before message_start.")
        if kind == "content_block_start":
            message["content"].append(copy.deepcopy(event["content_block"]))
        elif kind == "content_block_delta":
            _delta(message["content"][event["index"]], event["index"], event["delta"], fragments)
        elif kind == "content_block_stop":
            block = message["content"][event["index"]]
            if block.get("type") in _TOOL_BLOCKS and event["index"] in fragments:
                block["input"] = tool_input(fragments.pop(event["index"]))
        elif kind == "message_delta":
            _message_delta(message, event)
    if message is None:
        raise ValueError("The stream has no message_start event.")
    return message


def _delta(block: dict[str, Any], index: int, delta: Event, fragments: dict[int, str]) -> None:
    kind = delta.get("type")
    if kind == "text_delta":
        block["text"] += delta["text"]
    elif kind == "thinking_delta":
        block["thinking"] += delta["thinking"]
    elif kind == "signature_delta":
        block["signature"] = delta["signature"]
    elif kind == "citations_delta":
        block["citations"] = [*(block.get("citations") or []), delta["citation"]]
    elif kind == "input_json_delta":
        fragments[index] = fragments.get(index, "") + delta["partial_json"]


def _message_delta(message: dict[str, Any], event: Event) -> None:
    delta = event.get("delta") or {}
    message["stop_reason"] = delta.get("stop_reason")
    message["stop_sequence"] = delta.get("stop_sequence")
    usage = event.get("usage") or {}
    message["usage"].update({key: value for key, value in usage.items() if value is not None})

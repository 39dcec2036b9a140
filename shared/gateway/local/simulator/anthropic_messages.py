"""Anthropic Messages content: the prompt a body carries, the answer as a message or events.

Shared by Anthropic's own API (``anthropic_api``: JSON or SSE) and Bedrock's InvokeModel for
Claude (``bedrock_invoke``: JSON or an AWS event stream), which carry the same request body
and the same answer events; ``Style`` holds where the two hosts differ. References:
https://docs.anthropic.com/en/api/messages and
https://docs.anthropic.com/en/docs/build-with-claude/streaming (API version 2023-06-01);
https://docs.aws.amazon.com/bedrock/latest/userguide/model-parameters-anthropic-claude-messages.html
(``anthropic_version`` bedrock-2023-05-31).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gateway.local.simulator.engine import Kind
from gateway.local.simulator.scenario import (
    TOOL_ARGUMENTS,
    Parsed,
    PromptScan,
    as_dict,
    as_list,
    content_text,
    dumps,
    signature_for,
)

if TYPE_CHECKING:
    from gateway.local.simulator.scenario import Plan

Event = tuple[dict[str, Any], Kind]
_THINKING_TYPES = ("enabled", "adaptive")


@dataclass(frozen=True)
class Style:
    """How a host marks an answer: its id formats (``str.format`` of the request's sequence
    number), and whether ``usage`` names a service tier."""

    message_id: str
    tool_id: str
    service_tier: bool


# Bedrock's ids carry ``bdrk`` (``msg_bdrk_01...``, ``toolu_bdrk_01...``) and its usage has
# no ``service_tier``, as in answers recorded from InvokeModel.
FIRST_PARTY = Style("msg_sim{:018d}", "toolu_sim{:015d}", service_tier=True)
BEDROCK = Style("msg_bdrk_sim{:018d}", "toolu_bdrk_sim{:015d}", service_tier=False)


def _add_blocks(scan: PromptScan, content: object) -> None:
    """Add each block; a block with ``cache_control`` ends a cacheable prefix."""
    if not isinstance(content, list):
        scan.add(content_text(content))
        return
    for block in content:
        scan.add(content_text([block]))
        if isinstance(block, dict) and block.get("cache_control"):
            scan.mark()


def prompt_scan(body: dict[str, Any], messages: list[Any]) -> PromptScan:
    """Tools, system, then messages: the order of the prompt-cache prefix."""
    scan = PromptScan()
    for tool in as_list(body.get("tools")):
        scan.add(dumps(tool))
        if isinstance(tool, dict) and tool.get("cache_control"):
            scan.mark()
    if "system" in body:
        _add_blocks(scan, body["system"])
    for message in messages:
        if isinstance(message, dict):
            _add_blocks(scan, message.get("content"))
    return scan


def _tools(body: dict[str, Any]) -> tuple[list[str], str | None]:
    tools = as_list(body.get("tools"))
    names = [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]
    choice = as_dict(body.get("tool_choice"))
    kind = choice.get("type")
    if kind == "none":
        return [], None
    if kind == "any":
        return names, ""
    if kind == "tool":
        return names, str(choice.get("name", ""))
    return names, None


def _has_tool_result(message: object) -> bool:
    content = message.get("content") if isinstance(message, dict) else None
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


def _last_user_text(messages: list[Any]) -> str:
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def parse_body(body: dict[str, Any], messages: list[Any], *, model: str, stream: bool) -> Parsed:
    """A validated body (``messages`` non-empty) in vendor-neutral terms."""
    tools, forced = _tools(body)
    thinking = as_dict(body.get("thinking"))
    return Parsed(
        model=model,
        stream=stream,
        user_text=_last_user_text(messages),
        scan=prompt_scan(body, messages),
        tools=tools,
        forced_tool=forced,
        after_tool_result=_has_tool_result(messages[-1]),
        thinking=thinking.get("type") in _THINKING_TYPES,
    )


def stop_reason(plan: Plan) -> str:
    return "tool_use" if plan.tool else "end_turn"


def usage(plan: Plan, output_tokens: int, *, service_tier: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "input_tokens": plan.input_tokens,
        "cache_creation_input_tokens": plan.cache_write,
        "cache_read_input_tokens": plan.cache_read,
        "output_tokens": output_tokens,
    }
    if service_tier:
        body["service_tier"] = "standard"
    return body


def _envelope(
    plan: Plan, style: Style, content: list[dict[str, Any]], stop: str | None, out: int
) -> dict[str, Any]:
    return {
        "id": style.message_id.format(plan.seq),
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": usage(plan, out, service_tier=style.service_tier),
    }


def _blocks(plan: Plan, style: Style) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if plan.thinking_text:
        signature = signature_for(plan.thinking_text)
        blocks.append({"type": "thinking", "thinking": plan.thinking_text, "signature": signature})
    if plan.tool:
        tool = {"type": "tool_use", "id": style.tool_id.format(plan.seq), "name": plan.tool}
        blocks.append({**tool, "input": TOOL_ARGUMENTS})
    else:
        blocks.append({"type": "text", "text": plan.reply})
    return blocks


def message(plan: Plan, style: Style) -> dict[str, Any]:
    """The non-streamed answer."""
    return _envelope(plan, style, _blocks(plan, style), stop_reason(plan), plan.output_tokens)


def stream_events(plan: Plan, style: Style) -> list[Event]:
    """The streamed answer, event by event, each with its ``engine.Kind`` for the faults."""
    start = {"type": "message_start", "message": _envelope(plan, style, [], None, 1)}
    events: list[Event] = [(start, "meta")]
    index = 0
    if plan.thinking_text:
        events += _thinking_events(plan, index)
        index += 1
    events += _tool_events(plan, style, index) if plan.tool else _text_events(plan, index)
    events.insert(2, ({"type": "ping"}, "meta"))  # after the first content_block_start
    final = usage(plan, plan.output_tokens, service_tier=False)  # message_delta's never does
    stop = {"stop_reason": stop_reason(plan), "stop_sequence": None}
    events.append(({"type": "message_delta", "delta": stop, "usage": final}, "tail"))
    events.append(({"type": "message_stop"}, "tail"))
    return events


def _block_events(index: int, block: dict[str, Any], deltas: list[dict[str, Any]]) -> list[Event]:
    start = {"type": "content_block_start", "index": index, "content_block": block}
    events: list[Event] = [(start, "meta")]
    for delta in deltas:
        kind: Kind = "meta" if delta["type"] == "signature_delta" else "delta"
        events.append(({"type": "content_block_delta", "index": index, "delta": delta}, kind))
    events.append(({"type": "content_block_stop", "index": index}, "meta"))
    return events


def _thinking_events(plan: Plan, index: int) -> list[Event]:
    deltas = [{"type": "thinking_delta", "thinking": piece} for piece in plan.thinking_chunks]
    deltas.append({"type": "signature_delta", "signature": signature_for(plan.thinking_text)})
    block = {"type": "thinking", "thinking": "", "signature": ""}
    return _block_events(index, block, deltas)


def _text_events(plan: Plan, index: int) -> list[Event]:
    deltas = [{"type": "text_delta", "text": piece} for piece in plan.text_chunks]
    return _block_events(index, {"type": "text", "text": ""}, deltas)


def _tool_events(plan: Plan, style: Style, index: int) -> list[Event]:
    block: dict[str, Any] = {"type": "tool_use", "id": style.tool_id.format(plan.seq)}
    block.update(name=plan.tool, input={})
    deltas = [{"type": "input_json_delta", "partial_json": p} for p in plan.argument_chunks]
    return _block_events(index, block, deltas)

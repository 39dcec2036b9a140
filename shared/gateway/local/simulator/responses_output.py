"""The Responses API's answer: output items, the Response object, its stream events.

Built from a ``scenario.Plan`` (the chat vendor's reply, tool call and token counts) and the
``ResponsesRequest`` that ``openai_responses.parse_body`` makes of a body; the JSON answer
and the stream share ``answer``. Shapes as OpenAI's OpenAPI description 2.3.0 has them
(``Response``, ``OutputItem``, ``ResponseUsage``, ``ResponseStreamEvent``); see
https://platform.openai.com/docs/api-reference/responses-streaming.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gateway.local.simulator.engine import Kind
from gateway.local.simulator.scenario import (
    TOOL_ARGUMENTS_JSON,
    Parsed,
    as_dict,
    as_list,
    count_tokens,
    signature_for,
    split_chunks,
)

if TYPE_CHECKING:
    from gateway.local.simulator.scenario import Plan

Event = tuple[dict[str, Any], Kind]
_WORD = re.compile(r"\S+")
# Request fields a Response echoes, with what it says when the request left them out.
_ECHOED: dict[str, object] = {
    "instructions": None,
    "max_tool_calls": None,
    "parallel_tool_calls": True,
    "prompt_cache_key": None,
    "safety_identifier": None,
    "store": True,
    "temperature": 1.0,
    "tool_choice": "auto",
    "tools": [],
    "top_logprobs": 0,
    "top_p": 1.0,
    "truncation": "disabled",
    "metadata": {},
}
# Echoed only when sent: OpenAI's schema types ``user`` a string, never null.
_ECHOED_IF_SENT = ("user",)


@dataclass
class ResponsesRequest(Parsed):
    """A Responses body in the scenario's terms, with what only a Response needs."""

    body: dict[str, Any] = field(default_factory=dict)
    summary: str | None = None  # reasoning.summary, for a reasoning model
    encrypted: bool = False  # include asks for reasoning.encrypted_content
    max_output_tokens: int | None = None
    created_at: int = field(default_factory=lambda: int(time.time()))


# --------------------------------------------------------------------------- the answer


@dataclass(frozen=True)
class Answer:
    """What one response says, cut to ``max_output_tokens``; JSON and stream share it."""

    reasoning: str | None  # the reasoning text; None: no reasoning item
    text: str | None  # the message's text or the call's arguments; None: neither item
    incomplete: bool
    reasoning_tokens: int
    output_tokens: int

    @property
    def status(self) -> str:
        return "incomplete" if self.incomplete else "completed"


def _fit(text: str, tokens: int) -> str:
    """The longest prefix of whole words that ``tokens`` tokens pay for."""
    end = 0
    for word in _WORD.finditer(text):
        if count_tokens(text[: word.end()]) > tokens:
            break
        end = word.end()
    return text[:end]


def answer(plan: Plan, request: ResponsesRequest) -> Answer:
    """The plan's reasoning and reply (or tool call), within ``max_output_tokens``."""
    thinking = plan.thinking_text
    spent = count_tokens(thinking)
    said = TOOL_ARGUMENTS_JSON if plan.tool else plan.reply
    limit = request.max_output_tokens
    reasoning = thinking if request.thinking else None
    if limit is None or plan.output_tokens <= limit:
        return Answer(reasoning, said, False, spent, plan.output_tokens)
    # Cut: the model spent the whole budget, as OpenAI reports it.
    if spent >= limit:
        return Answer(_fit(thinking, limit), None, True, limit, limit)
    return Answer(reasoning, _fit(said, limit - spent) or None, True, spent, limit)


def _reasoning_item(plan: Plan, request: ResponsesRequest, text: str) -> dict[str, Any]:
    summary = [{"type": "summary_text", "text": text}] if request.summary else []
    item: dict[str, Any] = {"id": f"rs_sim{plan.seq:06d}", "type": "reasoning"}
    item["summary"] = summary
    if request.encrypted:
        item["encrypted_content"] = seal(item["id"], text)
    return item


def seal(item_id: str, text: str) -> str:
    """Encrypted reasoning as OpenAI binds it: opaque, and valid only under its item's id."""
    return base64.b64encode(f"{item_id}:{signature_for(text)}".encode()).decode()


def sealed_id(blob: str) -> str | None:
    """The item id an encrypted reasoning blob was sealed under (None: not a seal)."""
    try:
        raw = base64.b64decode(blob, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    item_id, colon, _ = raw.partition(":")
    return item_id if colon else None


def _message_item(plan: Plan, text: str, status: str) -> dict[str, Any]:
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": text}
    item: dict[str, Any] = {"id": f"msg_sim{plan.seq:06d}", "type": "message"}
    item.update(status=status, content=[part], role="assistant")
    return item


def _call_item(plan: Plan, arguments: str, status: str) -> dict[str, Any]:
    item: dict[str, Any] = {"id": f"fc_sim{plan.seq:06d}", "type": "function_call"}
    # The call id is the chat vendor's tool call id for the same request.
    item.update(status=status, arguments=arguments, call_id=f"call_sim{plan.seq:06d}")
    item["name"] = plan.tool
    return item


def _output(plan: Plan, request: ResponsesRequest, said: Answer) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if said.reasoning is not None:
        items.append(_reasoning_item(plan, request, said.reasoning))
    if said.text is not None:
        build = _call_item if plan.tool else _message_item
        items.append(build(plan, said.text, said.status))
    return items


def _usage(plan: Plan, said: Answer) -> dict[str, Any]:
    prompt = plan.input_tokens + plan.cache_read + plan.cache_write
    return {
        "input_tokens": prompt,
        "input_tokens_details": {
            "cached_tokens": plan.cache_read,
            "cache_write_tokens": plan.cache_write,
        },
        "output_tokens": said.output_tokens,
        "output_tokens_details": {"reasoning_tokens": said.reasoning_tokens},
        "total_tokens": prompt + said.output_tokens,
    }


def _response_object(
    plan: Plan,
    request: ResponsesRequest,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
) -> dict[str, Any]:
    body = request.body
    effort = as_dict(body.get("reasoning")).get("effort")
    text = as_dict(body.get("text"))
    response = {
        "id": f"resp_sim{plan.seq:06d}",
        "object": "response",
        "created_at": request.created_at,
        "status": status,
        "background": False,
        "completed_at": int(time.time()) if status == "completed" else None,
        "error": None,
        "incomplete_details": {"reason": "max_output_tokens"} if status == "incomplete" else None,
        "max_output_tokens": request.max_output_tokens,
        "model": plan.model,
        "output": output,
        "previous_response_id": None,
        "reasoning": {
            "effort": effort or ("medium" if request.thinking else None),
            "summary": request.summary,
        },
        "service_tier": "default",
        "text": {
            "format": text.get("format") or {"type": "text"},
            "verbosity": text.get("verbosity") or "medium",
        },
        **_echoed(body),
    }
    if usage is not None:  # the schema's ``usage`` is an object or absent, never null
        response["usage"] = usage
    return response


def _echoed(body: dict[str, Any]) -> dict[str, Any]:
    """The request's fields as a Response restates them."""
    echoed = {
        name: default if body.get(name) is None else body[name] for name, default in _ECHOED.items()
    }
    echoed.update((name, body[name]) for name in _ECHOED_IF_SENT if body.get(name) is not None)
    echoed["tools"] = [_tool(tool) for tool in as_list(echoed["tools"])]
    return echoed


def _tool(tool: object) -> object:
    """A function tool comes back with ``parameters`` and ``strict``, true unless sent false
    (Responses functions are strict by default)."""
    if not isinstance(tool, dict) or tool.get("type") != "function":
        return tool
    strict = tool.get("strict")
    parameters = tool.get("parameters")
    return {**tool, "parameters": parameters, "strict": True if strict is None else strict}


def response(plan: Plan, request: ResponsesRequest) -> dict[str, Any]:
    """The Response as a non-streamed answer carries it."""
    said = answer(plan, request)
    output = _output(plan, request, said)
    return _response_object(plan, request, said.status, output, _usage(plan, said))


# --------------------------------------------------------------------------- the stream


def _summary_events(chunks: int, index: int, item: dict[str, Any]) -> list[Event]:
    events: list[Event] = []
    for number, part in enumerate(item["summary"]):
        at = {"item_id": item["id"], "output_index": index, "summary_index": number}
        empty = {**part, "text": ""}
        events.append(
            ({"type": "response.reasoning_summary_part.added", **at, "part": empty}, "meta")
        )
        events += [
            ({"type": "response.reasoning_summary_text.delta", **at, "delta": piece}, "delta")
            for piece in split_chunks(part["text"], chunks)
        ]
        done = {"type": "response.reasoning_summary_text.done", **at, "text": part["text"]}
        events.append((done, "meta"))
        events.append(
            ({"type": "response.reasoning_summary_part.done", **at, "part": part}, "meta")
        )
    return events


def _text_events(chunks: int, index: int, item: dict[str, Any]) -> list[Event]:
    part = item["content"][0]
    at = {"item_id": item["id"], "output_index": index, "content_index": 0}
    added = {"type": "response.content_part.added", **at, "part": {**part, "text": ""}}
    events: list[Event] = [(added, "meta")]
    events += [
        ({"type": "response.output_text.delta", **at, "delta": piece, "logprobs": []}, "delta")
        for piece in split_chunks(part["text"], chunks)
    ]
    done = {"type": "response.output_text.done", **at, "text": part["text"], "logprobs": []}
    events.append((done, "meta"))
    events.append(({"type": "response.content_part.done", **at, "part": part}, "meta"))
    return events


def _argument_events(chunks: int, index: int, item: dict[str, Any]) -> list[Event]:
    at = {"item_id": item["id"], "output_index": index}
    events: list[Event] = [
        ({"type": "response.function_call_arguments.delta", **at, "delta": piece}, "delta")
        for piece in split_chunks(item["arguments"], chunks)
    ]
    done = {"type": "response.function_call_arguments.done", **at, "name": item["name"]}
    done["arguments"] = item["arguments"]
    events.append((done, "meta"))
    return events


def _item_events(chunks: int, index: int, item: dict[str, Any]) -> list[Event]:
    """output_item.added (the item as it starts), its content's events, output_item.done."""
    if item["type"] == "reasoning":
        # encrypted_content comes with the finished item only.
        start = {key: value for key, value in item.items() if key != "encrypted_content"}
        start["summary"] = []
        inner = _summary_events(chunks, index, item)
    elif item["type"] == "message":
        start = {**item, "status": "in_progress", "content": []}
        inner = _text_events(chunks, index, item)
    else:
        start = {**item, "status": "in_progress", "arguments": ""}
        inner = _argument_events(chunks, index, item)
    added = {"type": "response.output_item.added", "output_index": index, "item": start}
    done = {"type": "response.output_item.done", "output_index": index, "item": item}
    return [(added, "meta"), *inner, (done, "meta")]


def stream_events(plan: Plan, request: ResponsesRequest) -> list[Event]:
    """Every event, in order, each with its ``engine.Kind`` for the faults (unnumbered)."""
    said = answer(plan, request)
    start = _response_object(plan, request, "in_progress", [], None)
    events: list[Event] = [
        ({"type": "response.created", "response": start}, "meta"),
        ({"type": "response.in_progress", "response": start}, "meta"),
    ]
    output = _output(plan, request, said)
    for index, item in enumerate(output):
        events += _item_events(plan.chunks, index, item)
    final = _response_object(plan, request, said.status, output, _usage(plan, said))
    events.append(({"type": f"response.{said.status}", "response": final}, "tail"))
    return events

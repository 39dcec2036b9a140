"""The stream of events a finished Response unfolds into (a cached answer, streamed).

response.created and .in_progress carry the response with no output; each output
item is opened (output_item.added, its text and arguments empty), its content given
whole in one delta per part (output text, refusal, reasoning text, reasoning summary,
function call arguments) and closed (output_item.done, the item as it ended); the
terminal event (response.completed, or .incomplete) carries the whole response.
Items of other kinds are opened and closed with nothing between. Numbered from 0.
"""

from __future__ import annotations

from typing import Any

Event = dict[str, Any]

_TERMINAL = {"completed": "response.completed", "incomplete": "response.incomplete"}


def unfold(response: dict[str, Any]) -> list[Event]:
    pending = {key: value for key, value in response.items() if key != "usage"}
    pending.update(status="in_progress", output=[], incomplete_details=None, completed_at=None)
    events: list[Event] = [
        {"type": "response.created", "response": pending},
        {"type": "response.in_progress", "response": pending},
    ]
    for index, item in enumerate(response.get("output") or []):
        events += _item_events(index, item)
    terminal = _TERMINAL.get(str(response.get("status")), "response.completed")
    events.append({"type": terminal, "response": response})
    return [{**event, "sequence_number": number} for number, event in enumerate(events)]


def _item_events(index: int, item: dict[str, Any]) -> list[Event]:
    kind = item.get("type")
    where = {"item_id": item.get("id"), "output_index": index}
    opened = dict(item)
    inner: list[Event] = []
    if kind == "message":
        opened.update(content=[], status="in_progress")
        for number, part in enumerate(item.get("content") or []):
            inner += _part_events(where, number, part)
    elif kind == "function_call":
        opened.update(arguments="", status="in_progress")
        arguments = item.get("arguments", "")
        inner.append(
            {"type": "response.function_call_arguments.delta", **where, "delta": arguments}
        )
        inner.append(
            {
                "type": "response.function_call_arguments.done",
                **where,
                "name": item.get("name"),
                "arguments": arguments,
            }
        )
    elif kind == "reasoning":
        opened.update(summary=[])
        if "content" in item:
            opened["content"] = []
        for number, part in enumerate(item.get("summary") or []):
            inner += _summary_events(where, number, part)
        for number, part in enumerate(item.get("content") or []):
            text = part.get("text", "")
            at = {**where, "content_index": number}
            inner.append({"type": "response.reasoning_text.delta", **at, "delta": text})
            inner.append({"type": "response.reasoning_text.done", **at, "text": text})
    return [
        {"type": "response.output_item.added", "output_index": index, "item": opened},
        *inner,
        {"type": "response.output_item.done", "output_index": index, "item": item},
    ]


def _part_events(where: dict[str, Any], number: int, part: dict[str, Any]) -> list[Event]:
    at = {**where, "content_index": number}
    kind = part.get("type")
    events: list[Event] = []
    if kind == "output_text":
        text = part.get("text", "")
        opened = {**part, "text": "", "annotations": []}
        events.append({"type": "response.content_part.added", **at, "part": opened})
        logprobs = part.get("logprobs") or []
        events.append(
            {"type": "response.output_text.delta", **at, "delta": text, "logprobs": logprobs}
        )
        events.append(
            {"type": "response.output_text.done", **at, "text": text, "logprobs": logprobs}
        )
    elif kind == "refusal":
        refusal = part.get("refusal", "")
        events.append(
            {"type": "response.content_part.added", **at, "part": {**part, "refusal": ""}}
        )
        events.append({"type": "response.refusal.delta", **at, "delta": refusal})
        events.append({"type": "response.refusal.done", **at, "refusal": refusal})
    else:
        events.append({"type": "response.content_part.added", **at, "part": part})
    events.append({"type": "response.content_part.done", **at, "part": part})
    return events


def _summary_events(where: dict[str, Any], number: int, part: dict[str, Any]) -> list[Event]:
    at = {**where, "summary_index": number}
    text = part.get("text", "")
    return [
        {"type": "response.reasoning_summary_part.added", **at, "part": {**part, "text": ""}},
        {"type": "response.reasoning_summary_text.delta", **at, "delta": text},
        {"type": "response.reasoning_summary_text.done", **at, "text": text},
        {"type": "response.reasoning_summary_part.done", **at, "part": part},
    ]

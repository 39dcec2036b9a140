"""A Responses request's input as the items OpenAI would list for it.

What `GET /v1/responses/{id}/input_items` lists, and what a later turn replays (native
or translated), so each item is one OpenAI's `ItemResource` and `InputItem` both take:
- a string input is one user message; string contents become one part (input_text, or
  output_text for an assistant message);
- every item names its `type`; one without an `id` gets `<prefix>_<suffix>_<n>`, n its
  position in the input (msg_, fc_, fco_, and item_ for kinds this gateway does not
  know); message, function call, function call output and reasoning items without a
  `status` are "completed";
- image parts without a `detail` get "auto" (OpenAI's default), output_text parts
  without `annotations` or `logprobs` get empty lists (both are required in a listing);
- an item_reference stays one: it names an item this gateway may not hold (OpenAI
  resolves it natively; the chat translation resolves it against the conversation).
Everything else is the client's, unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.schemas.responses import (
    FunctionCall,
    FunctionCallOutput,
    InputImage,
    InputMessage,
    ItemReference,
    OutputMessage,
    OutputText,
    ReasoningItem,
)

if TYPE_CHECKING:
    from pydantic import BaseModel

    from gateway.schemas.responses import InputItem, InputPart, OutputPart, ResponsesRequest

Item = dict[str, Any]

PREFIXES: dict[type, str] = {
    InputMessage: "msg",
    OutputMessage: "msg",
    FunctionCall: "fc",
    FunctionCallOutput: "fco",
    ReasoningItem: "rs",  # unused: a reasoning item always has its id
}
OTHER_PREFIX = "item"
WITH_STATUS = (InputMessage, OutputMessage, FunctionCall, FunctionCallOutput, ReasoningItem)
COMPLETED = "completed"


def input_items(request: ResponsesRequest, response_id_suffix: str) -> list[Item]:
    source = request.input
    if source is None:
        return []
    if isinstance(source, str):
        source = [InputMessage(type="message", role="user", content=source)]
    return [_item(item, f"{response_id_suffix}_{n}") for n, item in enumerate(source)]


def _item(item: InputItem, tail: str) -> Item:
    if isinstance(item, ItemReference):
        return {"type": "item_reference", "id": item.id}
    body = _dump(item)
    body.pop("type", None)
    out: Item = {
        "id": body.pop("id", None) or f"{PREFIXES.get(type(item), OTHER_PREFIX)}_{tail}",
        "type": item.type or "message",
    }
    if isinstance(item, WITH_STATUS):
        out["status"] = body.pop("status", COMPLETED)
    out.update(body)
    if isinstance(item, InputMessage):
        out["content"] = _input_parts(item.content)
    elif isinstance(item, OutputMessage):
        out["content"] = _output_parts(item.content)
    elif isinstance(item, FunctionCallOutput) and not isinstance(item.output, str):
        out["output"] = _input_parts(item.output)
    return out


def _input_parts(content: str | list[InputPart]) -> list[Item]:
    if isinstance(content, str):
        return [{"type": "input_text", "text": content}]
    parts = [_dump(part) for part in content]
    for part, model in zip(parts, content, strict=True):
        if isinstance(model, InputImage):
            part.setdefault("detail", "auto")
    return parts


def _output_parts(content: str | list[OutputPart]) -> list[Item]:
    if isinstance(content, str):
        return [{"type": "output_text", "text": content, "annotations": [], "logprobs": []}]
    parts = [_dump(part) for part in content]
    for part, model in zip(parts, content, strict=True):
        if isinstance(model, OutputText):
            part.setdefault("annotations", [])
            part.setdefault("logprobs", [])
    return parts


def _dump(model: BaseModel) -> Item:
    return model.model_dump(mode="json", exclude_none=True, by_alias=True)

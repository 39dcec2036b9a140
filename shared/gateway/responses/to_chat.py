"""Responses create request -> ChatCompletionRequest, for providers that speak chat.

`items` is the whole conversation in order: earlier turns' input and output items,
then this request's (gateway.responses.items.input_items). The translation is also
the pipeline's view of every Responses request, native ones included (routing,
pricing, limits), so it is total: what chat cannot carry becomes a typed placeholder
part or is left out, and gateway.responses.support.untranslatable refuses it before
a chat provider sees it.

Decisions a reader could not guess:
- `instructions` is a leading system message, this request's only: OpenAI does not
  carry instructions over from `previous_response_id` either.
- Developer messages become system messages: not every OpenAI-compatible server knows
  the developer role, and the gateway's other dialects treat both alike.
- A list of text parts becomes one string, joined with a blank line, wherever chat has
  one text field (system, assistant, tool); user messages keep their parts, but a lone
  text part is a plain string. Refusal parts replay as assistant text.
- A run of assistant items (messages and function calls) becomes one assistant
  message, as chat puts an answer's text and its tool calls in one message; text that
  followed a call in the run moves before it. `phase` (commentary or final answer, a
  hint for OpenAI's models) has no chat equivalent.
- Reasoning items are dropped. The only reasoning a chat request carries is LiteLLM's
  `reasoning_content`, which the providers behind this path ignore or refuse (Converse
  and Claude need the signature the reasoning came with; DeepSeek refuses it).
- Images in a function call output follow the run of tool messages in a user message,
  introduced by IMAGES_FROM with the call id: chat's tool messages take text only.
- An item_reference is replaced by the item of that id in `items`; one not found is
  left out here (untranslatable refuses it).
- Image detail "original" (full resolution) becomes "high", chat's highest.
- A function tool's `strict` is sent only when set. Omitted, OpenAI makes the schema
  strict by rewriting it; chat providers rewrite nothing and refuse a strict flag on a
  schema that is not strict-ready, so an omitted `strict` means best effort here.
- `text.format` "text" is the default and is not sent (some providers refuse
  `response_format` altogether). `verbosity`, `prompt_cache_key` and
  `safety_identifier` keep their names, which chat also has: OpenAI-compatible
  upstreams get them, translated dialects drop them by their parameter table.
- `reasoning.effort` "max" becomes "xhigh", chat's highest. `reasoning.summary` has no
  chat switch: the answer carries whatever reasoning the provider returns.
- metadata, store, include, truncation, service_tier, max_tool_calls and
  stream_options are about the Response object or OpenAI's processing, not the
  completion: the Responses layer honours them, or untranslatable refuses them.
- A conversation with no message at all gets one empty user message, so the view is
  always a valid chat request; untranslatable refuses it for chat providers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gateway.schemas.openai import ChatCompletionRequest
from gateway.schemas.responses import (
    FormatJSONObject,
    FormatJSONSchema,
    FunctionCall,
    FunctionCallOutput,
    FunctionTool,
    InputImage,
    InputMessage,
    InputText,
    ItemReference,
    OutputMessage,
    OutputText,
    ReasoningItem,
    ToolChoiceFunction,
    parse_items,
)

if TYPE_CHECKING:
    from gateway.schemas.openai import ReasoningEffort
    from gateway.schemas.responses import (
        InputItem,
        InputPart,
        OutputPart,
        ResponsesRequest,
        Text,
        ToolChoice,
    )

Part = dict[str, Any]
ChatMessage = dict[str, Any]

JOIN = "\n\n"
IMAGES_FROM = "Images returned by tool call {}:"

ROLES = {"user": "user", "system": "system", "developer": "system"}
DETAILS = {"auto": "auto", "low": "low", "high": "high", "original": "high"}
EFFORTS: dict[str, ReasoningEffort] = {
    "none": "none",
    "minimal": "minimal",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "xhigh",
    "max": "xhigh",
}
# Request fields chat has under the same name and meaning.
KEPT = (
    "temperature",
    "top_p",
    "user",
    "parallel_tool_calls",
    "safety_identifier",
    "prompt_cache_key",
)


def to_chat(request: ResponsesRequest, items: list[dict[str, Any]]) -> ChatCompletionRequest:
    conversation = resolved(parse_items(items))
    body: dict[str, Any] = {"model": request.model, "messages": _messages(request, conversation)}
    if request.stream:
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}  # usage drives cost
    if request.max_output_tokens is not None:
        body["max_completion_tokens"] = request.max_output_tokens
    for name in KEPT:
        if getattr(request, name) is not None:
            body[name] = getattr(request, name)
    tools = [_tool(tool) for tool in request.tools or () if isinstance(tool, FunctionTool)]
    if tools:  # hosted tools are refused by untranslatable()
        body["tools"] = tools
    choice = _tool_choice(request.tool_choice)
    if choice is not None:
        body["tool_choice"] = choice
    if request.reasoning is not None and request.reasoning.effort is not None:
        body["reasoning_effort"] = EFFORTS[request.reasoning.effort]
    if request.text is not None:
        body.update(_text(request.text))
    return ChatCompletionRequest.model_validate(body)


def targets(items: list[InputItem]) -> dict[str, InputItem]:
    """The items an item_reference can name, by id."""
    out: dict[str, InputItem] = {}
    for item in items:
        key = getattr(item, "id", None)  # an unknown kind's id is one of its extra fields
        if isinstance(key, str) and not isinstance(item, ItemReference):
            out[key] = item
    return out


def resolved(items: list[InputItem]) -> list[InputItem]:
    """Item references replaced by the item of that id; unknown ones left out."""
    by_id = targets(items)
    out: list[InputItem] = []
    for item in items:
        target = by_id.get(item.id) if isinstance(item, ItemReference) else item
        if target is not None:
            out.append(target)
    return out


# ---- messages ------------------------------------------------------------------------


def _messages(request: ResponsesRequest, items: list[InputItem]) -> list[ChatMessage]:
    out: list[ChatMessage] = []
    if request.instructions:
        out.append({"role": "system", "content": request.instructions})
    media: list[Part] = []  # images from the current run of tool outputs
    for item in items:
        if media and not isinstance(item, (FunctionCallOutput, ReasoningItem)):
            out.append({"role": "user", "content": media})
            media = []
        if isinstance(item, InputMessage):
            out.append(_message(item))
        elif isinstance(item, OutputMessage):
            _add_text(_assistant(out), _output_text(item.content))
        elif isinstance(item, FunctionCall):
            _assistant(out).setdefault("tool_calls", []).append(_call(item))
        elif isinstance(item, FunctionCallOutput):
            message, images = _tool_message(item)
            out.append(message)
            media += images
        # Reasoning, unresolved references, other item kinds: nothing chat can carry.
    if media:
        out.append({"role": "user", "content": media})
    return out or [{"role": "user", "content": ""}]


def _message(item: InputMessage) -> ChatMessage:
    role = ROLES[item.role]
    if isinstance(item.content, str):
        return {"role": role, "content": item.content}
    parts = [_part(part) for part in item.content]
    if role == "system" and all(part["type"] == "text" for part in parts):
        return {"role": role, "content": JOIN.join(part["text"] for part in parts)}
    if len(parts) == 1 and parts[0]["type"] == "text":
        return {"role": role, "content": parts[0]["text"]}
    return {"role": role, "content": parts}


def _assistant(out: list[ChatMessage]) -> ChatMessage:
    """The assistant message the run in progress adds to, started if need be."""
    if out and out[-1]["role"] == "assistant":
        return out[-1]
    message: ChatMessage = {"role": "assistant", "content": None}
    out.append(message)
    return message


def _add_text(message: ChatMessage, text: str) -> None:
    before = message["content"]
    message["content"] = text if before is None else before + JOIN + text


def _output_text(content: str | list[OutputPart]) -> str:
    if isinstance(content, str):
        return content
    texts = (part.text if isinstance(part, OutputText) else part.refusal for part in content)
    return JOIN.join(texts)


def _call(item: FunctionCall) -> dict[str, Any]:
    function = {"name": item.name, "arguments": item.arguments}
    return {"id": item.call_id, "type": "function", "function": function}


def _tool_message(item: FunctionCallOutput) -> tuple[ChatMessage, list[Part]]:
    """The tool message (text only) and the output's other parts, for a user message."""
    call_id = item.call_id or ""  # untranslatable() refuses an output without one
    if isinstance(item.output, str):
        return {"role": "tool", "tool_call_id": call_id, "content": item.output}, []
    parts = [_part(part) for part in item.output]
    text = JOIN.join(part["text"] for part in parts if part["type"] == "text")
    media = [part for part in parts if part["type"] != "text"]
    if media:
        media = [{"type": "text", "text": IMAGES_FROM.format(call_id)}, *media]
    return {"role": "tool", "tool_call_id": call_id, "content": text}, media


def _part(part: InputPart) -> Part:
    """An input part as a chat part; one chat cannot carry is a typed placeholder."""
    if isinstance(part, InputText):
        return {"type": "text", "text": part.text}
    if isinstance(part, InputImage) and part.image_url is not None:
        image: dict[str, Any] = {"url": part.image_url}
        if part.detail is not None:
            image["detail"] = DETAILS[part.detail]
        return {"type": "image_url", "image_url": image}
    return {"type": part.type}  # an image by file_id, a file, an unknown part


# ---- tools, formats ----------------------------------------------------------------------


def _tool(tool: FunctionTool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    for name in ("description", "parameters", "strict"):
        if getattr(tool, name) is not None:
            function[name] = getattr(tool, name)
    return {"type": "function", "function": function}


def _tool_choice(choice: ToolChoice | None) -> Any:
    if isinstance(choice, str):
        return choice
    if isinstance(choice, ToolChoiceFunction):
        return {"type": "function", "function": {"name": choice.name}}
    return None  # allowed_tools and hosted tools' choices are refused by untranslatable()


def _text(text: Text) -> dict[str, Any]:
    out: dict[str, Any] = {}
    form = text.format
    if isinstance(form, FormatJSONSchema):
        schema: dict[str, Any] = {"name": form.name, "schema": form.schema_}
        if form.description is not None:
            schema["description"] = form.description
        if form.strict is not None:
            schema["strict"] = form.strict
        out["response_format"] = {"type": "json_schema", "json_schema": schema}
    elif isinstance(form, FormatJSONObject):
        out["response_format"] = {"type": "json_object"}
    if text.verbosity is not None:
        out["verbosity"] = text.verbosity
    return out

"""What a chat provider cannot honour in a Responses request, and what no path takes.

A Responses request served by a non-OpenAI model goes through chat
(gateway/responses/to_chat.py). Anything chat cannot carry (hosted tools, files,
stored prompts, item kinds and fields this gateway does not know) is a 400 naming it
(untranslatable), never a silent loss. Some features no path takes, since the gateway
keeps the conversation state itself (refuse_everywhere).

Decisions a reader could not guess:
- Params of items: this request's items are `input[i]`; an earlier turn's item is
  `previous_response_id`, the parameter that brought it in.
- `include`: "reasoning.encrypted_content" is accepted (chat providers return no
  encrypted reasoning, and replayed reasoning is dropped anyway), as is
  "message.input_image.image_url" (input items keep their image URLs), and the hosted
  tools' outputs (no hosted tool runs here: they are refused under `tools`). Logprobs
  are refused: the chat path carries none back.
- `truncation: "auto"` is accepted and means nothing is truncated: an input too long
  for the model fails as with "disabled".
- `service_tier` "auto" and "default" hold on any provider; OpenAI's other tiers (flex,
  priority...) promise a price or a speed a chat provider does not give.
- Caching hints (prompt_cache_key, prompt_cache_retention, prompt_cache_options and
  parts' prompt_cache_breakpoint) change cost, not the answer, and are accepted; a
  cache prewarm, which asks for no answer at all, is refused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

from gateway.errors import UnsupportedParameterError
from gateway.responses.to_chat import resolved, targets
from gateway.schemas.responses import (
    FunctionCall,
    FunctionCallOutput,
    HostedTool,
    InputFile,
    InputImage,
    InputMessage,
    InputText,
    ItemReference,
    OtherItem,
    OtherPart,
    OtherToolChoice,
    OutputMessage,
    ToolChoiceAllowed,
    parse_items,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence, Set
    from typing import Any

    from gateway.errors import GatewayError
    from gateway.schemas.responses import InputItem, InputPart, ResponsesRequest

Problem = tuple[str, str]  # (param, message)

INCLUDES = frozenset(
    {
        "reasoning.encrypted_content",
        "message.input_image.image_url",
        "file_search_call.results",
        "web_search_call.results",
        "web_search_call.action.sources",
        "computer_call_output.output.image_url",
        "code_interpreter_call.outputs",
    }
)
SERVICE_TIERS = frozenset({"auto", "default"})
# Request fields that configure OpenAI's own services: refused when set.
OPENAI_ONLY = ("context_management", "moderation", "image", "access_programs", "background_options")
# Unknown fields of typed objects that change nothing (who created an item).
HINTS = frozenset({"created_by"})


def refuse_everywhere(request: ResponsesRequest) -> None:
    """What no deployment gets, native or not: the gateway keeps the state itself."""
    for param, message in _everywhere(request):
        raise UnsupportedParameterError(message, param=param)


def untranslatable(
    request: ResponsesRequest, items: Sequence[dict[str, Any]], *, needs_a_turn: bool
) -> GatewayError | None:
    """The first feature a chat provider cannot honour, as a 400; `items` as for to_chat.

    `needs_a_turn`: the provider's API refuses instructions alone (the dialect's
    NEEDS_A_TURN), so an input with no message, call or call output is refused here.
    """
    for param, message in _problems(request, list(items), needs_a_turn):
        return UnsupportedParameterError(message, param=param)
    return None


def _cannot(what: str) -> str:
    return f"{what} cannot be honoured by this model's provider."


def _everywhere(request: ResponsesRequest) -> Iterator[Problem]:
    if request.background:
        yield "background", "Background responses are not supported by this gateway."
    if request.conversation is not None:
        yield (
            "conversation",
            "Conversations are not supported by this gateway; chain responses with "
            "previous_response_id.",
        )


def _problems(
    request: ResponsesRequest, items: list[dict[str, Any]], needs_a_turn: bool
) -> Iterator[Problem]:
    yield from _everywhere(request)
    yield from _request(request)
    conversation = parse_items(items)
    where = _Where(request, len(conversation))
    known = targets(conversation).keys()
    for i, item in enumerate(conversation):
        yield from _item(item, i, where, known)
    if (needs_a_turn or not request.instructions) and not any(map(_speaks, resolved(conversation))):
        yield "input", "The request has no input: no message, call or call output to answer."


def _speaks(item: InputItem) -> bool:
    """Whether the item becomes a chat message (reasoning does not)."""
    return isinstance(item, (InputMessage, OutputMessage, FunctionCall, FunctionCallOutput))


def _request(request: ResponsesRequest) -> Iterator[Problem]:
    if request.prompt is not None:
        yield "prompt", _cannot("A stored prompt template")
    if request.top_logprobs:
        yield "top_logprobs", _cannot("'top_logprobs'")
    for i, value in enumerate(request.include or ()):
        if value not in INCLUDES:
            yield f"include[{i}]", _cannot(f"The include value '{value}'")
    if request.service_tier is not None and request.service_tier not in SERVICE_TIERS:
        yield "service_tier", _cannot(f"The service tier '{request.service_tier}'")
    for name in OPENAI_ONLY:
        if getattr(request, name):
            yield name, _cannot(f"The '{name}' parameter")
    if (request.prompt_cache_options or {}).get("prewarm"):
        yield "prompt_cache_options.prewarm", _cannot("A prompt cache prewarm")
    yield from _tools(request)
    for name in type(request).model_fields:
        if name != "input":
            yield from _walk(getattr(request, name), name)


def _tools(request: ResponsesRequest) -> Iterator[Problem]:
    for k, tool in enumerate(request.tools or ()):
        if isinstance(tool, HostedTool):
            yield (
                f"tools[{k}]",
                f"The tool type '{tool.type}' cannot run on this model's provider; "
                "only function tools can.",
            )
    choice = request.tool_choice
    if isinstance(choice, (ToolChoiceAllowed, OtherToolChoice)):
        yield "tool_choice", _cannot(f"A tool_choice of type '{choice.type}'")


class _Where:
    """An item's param: `input[i]` for this request's items, else the earlier turn's."""

    def __init__(self, request: ResponsesRequest, total: int) -> None:
        source = request.input
        count = 0 if source is None else 1 if isinstance(source, str) else len(source)
        self.offset = max(total - count, 0)

    def earlier(self, index: int) -> bool:
        return index < self.offset

    def __call__(self, index: int, path: str = "") -> str:
        return (
            "previous_response_id" if self.earlier(index) else f"input[{index - self.offset}]{path}"
        )


def _item(item: InputItem, i: int, where: _Where, known: Set[str]) -> Iterator[Problem]:
    if isinstance(item, OtherItem):
        yield where(i), _cannot(f"An item of type '{item.type}'")
        return
    if isinstance(item, ItemReference) and item.id not in known:
        yield (
            where(i),
            f"The item_reference '{item.id}' names no item of this conversation; this model's "
            "provider can only be given the conversation's own items.",
        )
    elif isinstance(item, InputMessage) and not isinstance(item.content, str):
        text_only = item.role != "user"
        for j, part in enumerate(item.content):
            yield from _part(part, where(i, f".content[{j}]"), text_only, item.role)
    elif isinstance(item, FunctionCallOutput):
        if item.call_id is None:
            yield where(i, ".call_id"), _cannot("A function_call_output without a call_id")
        if not isinstance(item.output, str):
            for j, part in enumerate(item.output):
                yield from _part(part, where(i, f".output[{j}]"), False, "tool")
    yield from _extras(item, where(i), history=where.earlier(i))


def _part(part: InputPart, param: str, text_only: bool, role: str) -> Iterator[Problem]:
    if isinstance(part, InputFile):
        yield param, _cannot("An input_file part")
    elif isinstance(part, InputImage) and part.image_url is None:
        yield (
            param,
            "An input_image by file_id cannot be honoured by this model's provider: the "
            "gateway has no Files API; send the image as image_url.",
        )
    elif isinstance(part, OtherPart):
        yield param, _cannot(f"A content part of type '{part.type}'")
    elif text_only and not isinstance(part, InputText):
        yield param, _cannot(f"A content part of type '{part.type}' in a {role} message")


def _extras(model: BaseModel, path: str, *, history: bool = False) -> Iterator[Problem]:
    """Fields of typed objects that we do not know: their effect cannot be honoured."""
    for name in model.model_extra or {}:
        if name not in HINTS:
            yield path if history else f"{path}.{name}", _cannot(f"The field '{name}'")
    for name in type(model).model_fields:
        value = getattr(model, name)
        yield from _walk(value, path if history else f"{path}.{name}", history=history)


def _walk(value: object, path: str, *, history: bool = False) -> Iterator[Problem]:
    if isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, path if history else f"{path}[{i}]", history=history)
    elif isinstance(value, BaseModel) and not getattr(value, "generic", True):
        # Generic objects (hosted tools, unknown kinds) were judged by their type.
        yield from _extras(value, path, history=history)
